"""Outputs written whole or not at all: to a temporary file beside the target, fsynced, then renamed
over it, so a crash or a full disk leaves the older file or the new one, never part of one."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from nep_core.appkit.sessionlog import sync_folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path for the file (with the same suffix, so writers that go by it still do) to be
    written to; when the block ends without an error it replaces ``path``, else it is removed.

    The path is inside a new private folder beside ``path`` (``mkdtemp``: unguessable, made only by
    this process), so no link planted under a guessed name can redirect the write, and writers that
    refuse an existing file (OTIO's ``.otioz``) still find none. A link is followed (the link stays and
    its file is replaced); a pipe or a device (``/dev/stdout``) has nothing to replace and is written through."""
    asked = Path(path)
    if is_stream(asked):
        with _written_through(asked) as temporary:
            yield temporary
        return
    path = Path(os.path.realpath(asked)) if asked.is_symlink() else asked
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent))
    except OSError as error:
        error.filename = str(asked)  # name the file the user asked for
        raise
    temporary = folder / path.name
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        sync_folder(path.parent)
    except OSError as error:
        if error.filename in (str(temporary), str(path)):  # name the file the user asked for
            error.filename = str(asked)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # a read-only or vanished folder: the error that got here says why


def is_stream(path: Path) -> bool:
    """A pipe, a device, or an open descriptor of this process (``/dev/stdout``)."""
    if _descriptor(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _descriptor(path: Path) -> int | None:
    """The descriptor ``path`` names (``/dev/stdout``, ``/dev/fd/3``, ``/proc/self/fd/3``), if open; else None.

    Written to as it is: a file it was redirected to is neither replaced (the process would go on writing to
    one no longer there) nor reopened from its start (which would cut what was written before)."""
    text = os.path.abspath(path)
    named = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
    number = named.get(text)
    for prefix in ("/dev/fd/", "/proc/self/fd/", f"/proc/{os.getpid()}/fd/"):
        if text.startswith(prefix) and text[len(prefix):].isdigit():
            number = int(text[len(prefix):])
    if number is None:
        return None
    try:
        os.fstat(number)
    except OSError:
        return None
    return number


@contextlib.contextmanager
def _written_through(path: Path) -> Iterator[Path]:
    """A temporary path whose content goes to ``path`` (a pipe, a device, a descriptor) when the block ends without an error."""
    folder = Path(tempfile.mkdtemp(prefix=".nep-", suffix=".tmp"))
    temporary = folder / path.name
    try:
        yield temporary
        descriptor = _descriptor(path)
        if descriptor is not None:
            sys.stdout.flush()
            sys.stderr.flush()
        with open(temporary, "rb") as source, open(path if descriptor is None else descriptor, "wb", closefd=descriptor is None) as sink:
            shutil.copyfileobj(source, sink)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """``payload`` as indented JSON with sorted keys."""
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
