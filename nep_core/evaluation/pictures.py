"""Writing evaluated examples as pictures (``nep eval --render``): the loop every domain renderer shares."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from nep_core.atomic_files import atomic_path, write_json_atomic

MANIFEST = ".nep-pictures.json"
"""The list of the pictures the last ``--render`` wrote in its folder: the only files a later one removes."""
PICTURE_NAME = re.compile(r"\d{4}-[A-Za-z0-9_.-]*-\d+(\.\d+)?\.png")
"""The names pictures are written under: a name ``MANIFEST`` lists that is not one is never removed."""


@functools.lru_cache(maxsize=8)
def label_font(size: int = 12):
    """Pillow's bundled font at ``size`` pixels (FreeType); its older bitmap font, whose spaces are a
    pixel wide, only where this Pillow cannot scale it."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow before 10.1, or built without FreeType
        return ImageFont.load_default()


def write_pictures(outcomes: Sequence, folder: Path, limit: int, draw: Callable[[Any], Any | None]) -> list[Path]:
    """Save ``draw(outcome)`` (a PIL image, or None to skip the outcome) for up to ``limit`` outcomes,
    as ``NNNN-SESSION-TRIGGER.png`` in ``folder``; returns the paths written. The pictures an earlier
    run wrote there (listed in ``MANIFEST``) are replaced or removed. Any other file is left as it is:
    a picture whose name such a file has is written as ``NNNN-SESSION-TRIGGER.1.png`` instead."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    earlier = earlier_pictures(folder)
    written: list[Path] = []
    for outcome in outcomes:
        if len(written) >= limit:
            break
        image = draw(outcome)
        if image is None:
            continue
        example = outcome.example
        session = re.sub(r"[^A-Za-z0-9_.-]", "_", str(example.session_id))[-40:]
        path = _free_path(folder, f"{len(written):04d}-{session}-{example.trigger}", earlier)
        # listed before it is written: a render stopped part way still knows every picture it may have left
        write_json_atomic(folder / MANIFEST, {"pictures": sorted(earlier | {written_path.name for written_path in [*written, path]})})
        with atomic_path(path) as temporary:
            image.save(temporary)
        written.append(path)
    write_json_atomic(folder / MANIFEST, {"pictures": [path.name for path in written]})
    for name in earlier - {path.name for path in written}:
        stale = folder / name
        if stale.is_file() and not stale.is_symlink():
            stale.unlink()
    return written


def earlier_pictures(folder: Path) -> set[str]:
    """The names ``MANIFEST`` in ``folder`` lists (picture names only, nothing outside the folder); none without it."""
    try:
        names = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["pictures"]
    except (OSError, ValueError, TypeError, KeyError):
        return set()
    return {name for name in names if isinstance(name, str) and PICTURE_NAME.fullmatch(name)} if isinstance(names, list) else set()


def _free_path(folder: Path, stem: str, earlier: set[str]) -> Path:
    """``folder/stem.png``, or ``stem.1.png``, ``stem.2.png``...: the first that is free or an earlier picture."""
    path, copy = folder / f"{stem}.png", 0
    while (path.exists() or path.is_symlink()) and path.name not in earlier:
        copy += 1
        path = folder / f"{stem}.{copy}.png"
    return path
