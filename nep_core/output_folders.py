"""Output folders made before any work, with a one-line user error when they cannot be."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator

from nep_core.errors import NepError


def make_output_folder(path: Path | None, option: str) -> None:
    """Make the folder ``option`` names (and its parents) before any work, or stop with a one-line
    user error: it, or the nearest part of its path that exists, is a file, or it cannot be made or
    written (a read-only or full file system)."""
    if path is None:
        return
    existing = next((part for part in (path, *path.parents) if part.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "is a file" if existing == path else f"cannot be made: {existing} is a file"
        raise NepError(f"{option} {path} {where}; pass a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NepError(f"{option} {path} cannot be made: {error.strerror or error}") from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise NepError(f"{option} {path} cannot be written: {error.strerror or error}") from None


def make_output_file_folder(path: Path | None, option: str) -> None:
    """``make_output_folder`` for the folder of the file ``option`` names; a user error when the file is a folder."""
    from nep_core.atomic_files import is_stream

    if path is None or is_stream(path):  # /dev/stdout, a pipe: written through, nothing to make
        return
    if path.is_dir():
        raise NepError(f"{option} {path} is a folder; pass a file name")
    try:
        make_output_folder(path.parent, option)
    except NepError as error:  # name the file asked for, not only its folder
        raise NepError(str(error).replace(f"{option} {path.parent} ", f"{option} {path}: its folder {path.parent} ", 1)) from None


@contextlib.contextmanager
def output_folder(path: Path, option: str) -> Iterator[Path]:
    """``make_output_folder``, and the folder removed again if this made it and it is still empty as
    the block ends (an error, a Ctrl-C, or nothing to write), with each parent this made for it that
    is empty then too (``runs/`` of a default ``runs/<domain>``)."""
    made = [folder for folder in (path, *path.parents) if not folder.exists()]  # the folder first, then outwards
    try:
        make_output_folder(path, option)
        yield path
    finally:
        for folder in made:
            try:
                folder.rmdir()  # only while it is empty
            except OSError:
                break  # not empty (or not ours to remove): neither are the folders that hold it

