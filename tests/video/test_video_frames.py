"""Frame-count quantization: exact up to a second, log-spaced above, with a bounded round-trip error."""

from __future__ import annotations

import pytest

from nep_video.frames import EXACT_FRAMES, FRAME_STEPS, FRAME_TOKENS, MAX_FRAMES, RATIO, quantize_frames, steps_between, TOKEN_FRAMES


def test_small_counts_are_exact_with_either_sign():
    for frames in range(-EXACT_FRAMES, EXACT_FRAMES + 1):
        assert quantize_frames(frames) == frames


def test_large_counts_round_trip_within_half_a_step():
    worst = 0.0
    for frames in range(EXACT_FRAMES + 1, 20000, 7):
        snapped = quantize_frames(frames)
        assert snapped in FRAME_STEPS and quantize_frames(-frames) == -snapped
        worst = max(worst, abs(snapped - frames) / frames)
    assert 0.0 < worst <= (RATIO - 1) / 2 + 1e-9


def test_the_grid_is_strictly_increasing_and_ends_at_the_clamp():
    assert list(FRAME_STEPS) == sorted(set(FRAME_STEPS)) and FRAME_STEPS[-1] == MAX_FRAMES
    assert quantize_frames(10 ** 9) == MAX_FRAMES and quantize_frames(12.4) == 12


def test_quantizing_is_idempotent_and_tokens_round_trip():
    for step in FRAME_STEPS:
        assert quantize_frames(step) == step
        assert TOKEN_FRAMES[FRAME_TOKENS[-step]] == -step


def test_steps_between_is_inclusive():
    assert steps_between(-2, 3) == [-2, -1, 0, 1, 2, 3]
    assert steps_between(25, 26) == []


def test_non_finite_counts_are_refused():
    with pytest.raises(ValueError):
        quantize_frames(float("nan"))
