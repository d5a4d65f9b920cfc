"""Frame counts as tokens: exact when small, log-spaced when large.

A frame count ``d`` (a trim, a slip, a split offset, a duration, always in the timeline's rate) is
written as the magnitude ``FRAME_STEPS`` holds nearest to ``|d|``, with its sign:

- ``0..EXACT_FRAMES`` (one second at 24 fps) are written exactly;
- above that, each step is ``RATIO`` (1.125) times the one before, rounded to a whole frame, up to
  ``MAX_FRAMES`` (65,536 frames: 45 minutes at 24 fps); larger counts are clamped to it.

So the round-trip error is 0 up to 24 frames and at most half a step (``RATIO - 1) / 2`` = 6.25 %)
above it: a 12-frame head trim stays 12 frames, a 1,000-frame one becomes 1,043.
"""

from __future__ import annotations

import bisect
import math

EXACT_FRAMES = 24
RATIO = 1.125
MAX_FRAMES = 65536


def _steps() -> tuple[int, ...]:
    steps = list(range(EXACT_FRAMES + 1))
    while steps[-1] < MAX_FRAMES:
        steps.append(min(MAX_FRAMES, max(steps[-1] + 1, round(steps[-1] * RATIO))))
    return tuple(steps)


FRAME_STEPS: tuple[int, ...] = _steps()
"""Magnitudes a frame count snaps to, ascending, from 0."""
SIGNED_STEPS: tuple[int, ...] = tuple(sorted({sign * step for step in FRAME_STEPS for sign in (1, -1)}))


def quantize_frames(frames: float) -> int:
    """The signed step nearest to ``frames`` (clamped to ±MAX_FRAMES)."""
    if not math.isfinite(frames):
        raise ValueError(f"a frame count must be finite, got {frames}")
    magnitude = min(abs(frames), MAX_FRAMES)
    index = bisect.bisect_left(FRAME_STEPS, magnitude)
    candidates = FRAME_STEPS[max(0, index - 1) : index + 1]
    best = min(candidates, key=lambda step: (abs(step - magnitude), step))
    return int(math.copysign(best, frames)) if best else 0


def frame_token(frames: int) -> str:
    """``f=12``, ``f=-12``: a frame count already on the grid."""
    return f"f={frames}"


FRAME_TOKENS: dict[int, str] = {step: frame_token(step) for step in SIGNED_STEPS}
TOKEN_FRAMES: dict[str, int] = {token: step for step, token in FRAME_TOKENS.items()}


def steps_between(low: float, high: float) -> list[int]:
    """The signed steps within ``[low, high]``, ascending."""
    return list(SIGNED_STEPS[slice(*step_span(low, high))])


def step_span(low: float, high: float) -> tuple[int, int]:
    """(start, end): ``SIGNED_STEPS[start:end]`` are the signed steps within ``[low, high]``."""
    return bisect.bisect_left(SIGNED_STEPS, low), bisect.bisect_right(SIGNED_STEPS, high)


SIZE_BUCKETS = (0, 6, 12, 24, 48, 96, 192, 384, 768, 1536, 3072)
"""Coarse frame buckets for the encoder's picture of a clip (its length, the media left around it)."""


def size_bucket(frames: float | None) -> str:
    """The largest bucket ``frames`` reaches (``"?"`` when unknown)."""
    if frames is None:
        return "?"
    reached = [bucket for bucket in SIZE_BUCKETS if frames >= bucket]
    return str(reached[-1]) if reached else "0"
