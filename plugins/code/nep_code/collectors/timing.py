"""Seconds between simulated edits: typing speed, a moment to think, a little longer after a jump."""

from __future__ import annotations

import random

MAX_GAP = 14.0
"""Ordinary gaps stay well under the code domain's 20 s pause, so the next edit stays the target."""


def edit_gap(rng: random.Random, inserted_chars: int, jumped: bool) -> float:
    """The gap before an edit that types ``inserted_chars`` (pasted when long) after the previous edit."""
    typing = min(inserted_chars / 12.0, 6.0)
    gap = rng.uniform(0.6, 2.5) + typing + (rng.uniform(1.0, 4.0) if jumped else 0.0)
    return round(min(gap, MAX_GAP), 2)


def pause_gap(rng: random.Random) -> float:
    """A pause long enough that the core makes the edit before it a NO_EDIT trigger."""
    return round(rng.uniform(35.0, 120.0), 2)
