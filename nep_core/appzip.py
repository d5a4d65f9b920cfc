"""Reproducible zips of app clients (the Blender add-on, the Krita plugin): same sources, same bytes.

Every entry gets the same date (1980-01-01, the zip epoch), deflate and ``-rw-r--r--``, in the
order given; the zip is written next to its final path and moved into place, so a reader never sees
half a zip and a failed build leaves no temporary file behind.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Iterable

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_zip(path: Path, files: Iterable[tuple[str, Path]]) -> Path:
    """Write ``files`` ((name in the zip, source file), in that order) to ``path``, atomically; returns ``path``."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, file in files:
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, Path(file).read_bytes())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
