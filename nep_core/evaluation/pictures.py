"""Writing evaluated examples as pictures (``nep eval --render``): the loop every domain renderer shares."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from nep_core.atomic_files import atomic_path


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
    as ``NNNN-SESSION-TRIGGER.png`` in ``folder``; returns the paths written. Pictures of that name
    an earlier run left are removed, so the folder shows this run's only."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for outcome in outcomes:
        if len(written) >= limit:
            break
        image = draw(outcome)
        if image is None:
            continue
        example = outcome.example
        session = re.sub(r"[^A-Za-z0-9_.-]", "_", str(example.session_id))[-40:]
        path = folder / f"{len(written):04d}-{session}-{example.trigger}.png"
        with atomic_path(path) as temporary:
            image.save(temporary)
        written.append(path)
    for stale in set(folder.iterdir()) - set(written):
        if PICTURE_NAME.fullmatch(stale.name) and stale.is_file():
            stale.unlink()
    return written


PICTURE_NAME = re.compile(r"\d{4}-[A-Za-z0-9_.-]*-\d+\.png")
