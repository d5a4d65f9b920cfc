"""``nep eval --domain video --render DIR``: the predicted and the actual edit are both seen on every picture."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import opentimelineio as otio

from nep_core.actions import Action
from nep_video import render
from nep_video.render import ACTUAL_COLOR, EDIT_COLOR, render_timeline
from nep_video.timeline import ItemView, TimelineView
from video_timelines import clip

VIEW = TimelineView(24.0, ((ItemView("clip", "A", 96, 0, 0, "a"), ItemView("clip", "B", 48, 0, 0, "b")),), ())


def edit(kind: str, clip: int, **args) -> Action:
    return Action(kind, target={"track": 0, "clip": clip}, args=args)


def columns_of(image, color) -> set[int]:
    """The x of every column holding a pixel of ``color``."""
    pixels = np.asarray(image.convert("RGB"))
    return set(np.flatnonzero((pixels == color).all(axis=-1).any(axis=0)).tolist())


def test_the_actual_edit_shows_when_the_prediction_marks_the_same_clip():
    split = edit("split", 1, offset=12)
    image = render_timeline(VIEW, split, "exact", split)
    red, green = columns_of(image, EDIT_COLOR), columns_of(image, ACTUAL_COLOR)
    assert red and green and min(green) >= min(red) - 5 and max(green) <= max(red) + 5  # both under clip B


def test_an_actual_insert_at_the_end_of_a_track_is_drawn():
    insert = edit("insert", 2, media=0, **{"in": 0, "frames": 24})
    alone = render_timeline(VIEW, None, "", insert)
    assert columns_of(alone, ACTUAL_COLOR) and max(columns_of(alone, ACTUAL_COLOR)) >= alone.width - 15
    both = render_timeline(VIEW, insert, "", insert)
    assert columns_of(both, ACTUAL_COLOR) and columns_of(both, EDIT_COLOR)


def test_an_exact_match_says_so(monkeypatch, tmp_path):
    labels = []
    timeline = otio.schema.Timeline(tracks=[otio.schema.Track(name="V1", children=[clip("A", 0, 96), clip("B", 200, 48)])])
    monkeypatch.setattr("nep_video.replay.timeline_at", lambda context: SimpleNamespace(view=VIEW, timeline=timeline))
    monkeypatch.setattr(render, "render_timeline", lambda view, best, label, actual: labels.append(label) or render.Image.new("RGB", (4, 4)))
    split, other = edit("split", 1, offset=12), edit("delete", 0)
    outcomes = [SimpleNamespace(example=SimpleNamespace(context=None, session_id="s", trigger=index), best=best, reference=split)
                for index, best in enumerate((split, other))]
    render.render_outcomes(outcomes, tmp_path, 2)
    assert "exact match" in labels[0] and "exact match" not in labels[1]
