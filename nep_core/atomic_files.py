"""Outputs written whole or not at all: to a temporary file beside the target, fsynced, then renamed
over it, so a crash or a full disk leaves the older file or the new one, never part of one."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` (with the same suffix, so writers that go by it still do) to
    write the file to; when the block ends without an error it replaces ``path``, else it is removed."""
    path = Path(path)
    temporary = _new_file_beside(path)
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _sync_folder(path.parent)
    except OSError as error:
        if error.filename == str(temporary):  # name the file the user asked for
            error.filename = str(path)
        raise
    finally:
        with contextlib.suppress(OSError):  # a read-only or vanished folder: the error that got here says why
            temporary.unlink(missing_ok=True)


def _new_file_beside(path: Path) -> Path:
    """A new empty file with an unguessable name beside ``path``, created exclusively (so a link planted
    under that name cannot redirect the write) with the permissions the umask gives new files."""
    while True:
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        except OSError as error:
            error.filename = str(path)  # name the file the user asked for
            raise
        return temporary


def _sync_folder(folder: Path) -> None:
    """fsync a folder, so a rename in it survives a power cut (where the system allows it)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse to sync a folder
        pass
    finally:
        os.close(descriptor)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """``payload`` as indented JSON with sorted keys."""
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
