"""Outputs written whole or not at all: to a temporary file beside the target, fsynced, then renamed
over it, so a crash or a full disk leaves the older file or the new one, never part of one."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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
    refuse an existing file (OTIO's ``.otioz``) still find none."""
    path = Path(path)
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent))
    except OSError as error:
        error.filename = str(path)  # name the file the user asked for
        raise
    temporary = folder / path.name
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        sync_folder(path.parent)
    except OSError as error:
        if error.filename == str(temporary):  # name the file the user asked for
            error.filename = str(path)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # a read-only or vanished folder: the error that got here says why


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """``payload`` as indented JSON with sorted keys."""
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")
