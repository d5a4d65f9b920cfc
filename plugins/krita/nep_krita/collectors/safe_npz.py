"""Read ``.npz`` archives of arrays without unpickling arbitrary objects.

sketch-rnn's stroke-3 files keep each split as an *object* array of ``(N, 3)`` int16 arrays, which
numpy stores pickled (``numpy.load(..., allow_pickle=True, encoding="latin1")``). Unpickling runs
whatever callables the pickle names, so a hostile file could run code. Here object arrays are read
with an unpickler that may only rebuild numpy arrays and dtypes; anything else raises
``UnsafeArchive``. Plain (non-object) arrays are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import importlib
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from nep_core.zip_members import MemberTooLarge, read_capped

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
"""The only globals a sketch-rnn pickle needs: rebuilding arrays, their dtypes and scalars."""


MAX_NPZ_BYTES = 256 * 2**20
"""The most an archive's ``.npy`` members may unpack to, all together: more is refused unread (a zip bomb;
a sketch-rnn file of 75,000 drawings unpacks to some tens of MB)."""


class UnsafeArchive(ValueError):
    """The archive asks to unpickle something other than numpy arrays."""


def _multiarray():
    try:
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:  # numpy < 2
        return importlib.import_module("numpy.core.multiarray")


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise UnsafeArchive(f"refuses to unpickle {module}.{name} (only numpy arrays are read)")
        if module == "numpy":
            return getattr(np, name)
        return getattr(_multiarray(), name)


def read_member(data: bytes):
    """One ``.npy`` member: an array, with object arrays rebuilt by ``ArrayUnpickler``."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
    if not dtype.hasobject:
        return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    try:
        array = ArrayUnpickler(stream, encoding="latin1").load()
    except UnsafeArchive:
        raise
    except Exception as error:  # a truncated or garbled pickle: any of a dozen exception types
        raise ValueError(f"garbled object array ({type(error).__name__}: {error})") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"an object member holds {type(array).__name__}, not an array")
    return array


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array in the archive by name; ``ValueError`` (or ``UnsafeArchive``) says what is wrong.

    The ``.npy`` members may unpack to ``MAX_NPZ_BYTES`` in all: a member's declared size is checked
    before it is read and each read stops one byte past what is left, so a small archive cannot
    inflate in memory (a zip bomb); one over is refused, naming the member."""
    limit = f"the {MAX_NPZ_BYTES // 2**20} MiB limit for an npz's arrays"
    try:
        with zipfile.ZipFile(path) as archive:
            members = {}
            left = MAX_NPZ_BYTES
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                try:
                    data = read_capped(archive, info, left)
                except MemberTooLarge as error:
                    unpacked = f"unpacks to {error.size} bytes, over" if error.size is not None else "unpacks to over"
                    raise ValueError(f"{info.filename}: {unpacked} {limit}"
                                     f"{' (with the members before it)' if error.size is not None and left < MAX_NPZ_BYTES else ''}") from None
                left -= len(data)
                members[info.filename[: -len(".npy")]] = read_member(data)
            return members
    except zipfile.BadZipFile as error:
        raise ValueError(f"not a zip archive ({error})") from None
    except (OSError, EOFError, zipfile.LargeZipFile) as error:
        raise ValueError(f"cannot be read ({error})") from None
