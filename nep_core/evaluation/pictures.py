"""Writing evaluated examples as pictures (``nep eval --render``): the loop every domain renderer shares."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence


def write_pictures(outcomes: Sequence, folder: Path, limit: int, draw: Callable[[Any], Any | None]) -> list[Path]:
    """Save ``draw(outcome)`` (a PIL image, or None to skip the outcome) for up to ``limit`` outcomes,
    as ``NNNN-SESSION-TRIGGER.png`` in ``folder``; returns the paths written."""
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
        image.save(path)
        written.append(path)
    return written
