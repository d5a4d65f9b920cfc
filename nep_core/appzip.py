"""Reproducible zips of app clients (the Blender add-on, the Krita plugin): same sources, same bytes.

Every entry gets the same date (1980-01-01, the zip epoch), deflate and ``-rw-r--r--``, in the
order given, each folder's own entry (``pkg/``, ``drwxr-xr-x``) before its first file as ``zip -r``
writes it (Krita's plugin importer finds a package only by that entry). The zip is written next to
its final path and moved into place, so a reader never sees half a zip and a failed build leaves no
temporary file behind.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterable

from nep_core.atomic_files import atomic_path

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_zip(path: Path, files: Iterable[tuple[str, Path]]) -> Path:
    """Write ``files`` ((name in the zip, source file), in that order) to ``path``, atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as temporary, zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        folders_written: set[str] = set()
        for name, file in files:
            for folder in folders_of(name):
                if folder not in folders_written:
                    folders_written.add(folder)
                    info = zipfile.ZipInfo(folder, date_time=ZIP_DATE)
                    info.external_attr = 0o40755 << 16 | 0x10  # a directory, for Unix and for MS-DOS readers
                    archive.writestr(info, b"")
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, Path(file).read_bytes())
    return path


def folders_of(name: str) -> list[str]:
    """The folders above a zip entry, outermost first: ``a/b/c.py`` -> ``["a/", "a/b/"]``."""
    parts = name.split("/")[:-1]
    return ["/".join(parts[: depth + 1]) + "/" for depth in range(len(parts))]
