"""Each edit applied to real OTIO timelines (written to .otio and read back): gaps, transitions, nested stacks, mixed rates."""

from __future__ import annotations

import re

import opentimelineio as otio
import pytest

from nep_core.actions import Action
from nep_video.edits import EditError, apply_edit, edited_track
from nep_video.formats import read_timeline
from nep_video.snapshot import timeline_from_state, timeline_state
from nep_video.timeline import items_of, source_range, timeline_problems, timeline_rate, track_label, track_problems, tracks_of, view_of
from video_timelines import awkward, interview, write

RT = otio.opentime.RationalTime


@pytest.fixture
def saved(tmp_path):
    def load(timeline):
        path = tmp_path / f"{timeline.name}.otio"
        write(timeline, path)
        return read_timeline(path)
    return load


def edit(kind, clip, track=0, **args):
    return Action(kind, {"track": track, "clip": clip}, args)


def ranges(timeline, track=0):
    return [(item.name, source_range(item).start_time.value, source_range(item).duration.value) for item in items_of(tracks_of(timeline)[track])]


def test_trims_move_in_and_out_points_and_leave_the_original_alone(saved):
    timeline = saved(interview(3))
    trimmed = apply_edit(apply_edit(timeline, edit("trim_in", 1, frames=12)), edit("trim_out", 2, frames=-10))
    assert ranges(trimmed)[1:] == [("INT_2", 312, 84), ("INT_3", 500, 86)]
    assert ranges(timeline)[1] == ("INT_2", 300, 96)
    assert trimmed.tracks.duration().value == 96 + 84 + 86  # a trim ripples


def test_slip_roll_split_and_transition(saved):
    timeline = saved(interview(3))
    assert ranges(apply_edit(timeline, edit("slip", 0, frames=-20)))[0] == ("INT_1", 80, 96)
    rolled = apply_edit(timeline, edit("roll", 0, frames=8))
    assert ranges(rolled)[:2] == [("INT_1", 100, 104), ("INT_2", 308, 88)] and rolled.tracks.duration() == timeline.tracks.duration()
    split = apply_edit(timeline, edit("split", 1, offset=30))
    assert ranges(split)[1:3] == [("INT_2", 300, 30), ("INT_2", 330, 66)]
    dissolved = apply_edit(timeline, edit("add_transition", 0, frames=12))
    transition = list(tracks_of(dissolved)[0])[1]
    assert isinstance(transition, otio.schema.Transition) and transition.in_offset.value + transition.out_offset.value == 12
    assert timeline_problems(dissolved) == []


def test_delete_lifts_ripple_delete_closes_move_reorders_insert_uses_the_bin(saved):
    timeline = saved(interview(4))
    lifted = apply_edit(timeline, edit("delete", 1))
    assert [item.__class__.__name__ for item in items_of(tracks_of(lifted)[0])] == ["Clip", "Gap", "Clip", "Clip"]
    assert lifted.tracks.duration() == timeline.tracks.duration()
    closed = apply_edit(lifted, edit("ripple_delete", 1))
    assert [name for name, *_ in ranges(closed)] == ["INT_1", "INT_3", "INT_4"]
    moved = apply_edit(timeline, edit("move", 0, to=2))
    assert [name for name, *_ in ranges(moved)] == ["INT_2", "INT_3", "INT_1", "INT_4"]
    inserted = apply_edit(timeline, edit("insert", 4, media=0, **{"in": 10, "frames": 48}))
    assert ranges(inserted)[4] == ("INT_1", 10, 48)


def test_edits_on_an_awkward_timeline(saved):
    timeline = saved(awkward())
    view = view_of(timeline)
    assert [item.type for item in view.tracks[0]] == ["clip", "clip", "gap", "clip", "stack", "clip"]
    assert view.tracks[0][0].transition_after and view.tracks[0][3].duration == 72  # 90 frames at 30 fps
    assert view.tracks[0][5].head is None  # no media range
    mixed = apply_edit(timeline, edit("trim_in", 3, frames=12))  # 12 timeline frames = 15 frames at 30 fps
    item = items_of(tracks_of(mixed)[0])[3]
    assert source_range(item).start_time == RT(315, 30) and source_range(item).duration == RT(75, 30)
    no_stack_trim = pytest.raises(EditError, match=r"trim_in: target.clip 4 of track 'V1' is a nested stack")
    with no_stack_trim:
        apply_edit(timeline, edit("trim_in", 4, frames=2))
    with pytest.raises(EditError, match="is a gap, not a clip"):
        apply_edit(timeline, edit("split", 2, offset=3))
    moved_stack = apply_edit(timeline, edit("move", 4, to=0))
    assert isinstance(items_of(tracks_of(moved_stack)[0])[0], otio.schema.Stack)
    closed_gap = apply_edit(timeline, edit("ripple_delete", 2))
    assert len(items_of(tracks_of(closed_gap)[0])) == 5
    ripple_a = apply_edit(timeline, edit("ripple_delete", 0))  # the transition after A goes with it
    assert not any(isinstance(child, otio.schema.Transition) for child in tracks_of(ripple_a)[0])
    assert timeline_problems(ripple_a) == []


EDIT_ARGS = {
    "trim_in": {"frames": 12}, "trim_out": {"frames": -200}, "slip": {"frames": -60}, "roll": {"frames": 8},
    "split": {"offset": 30}, "delete": {}, "ripple_delete": {}, "move": {"to": 0},
    "insert": {"media": 0, "in": 10, "frames": 48}, "add_transition": {"frames": 12},
}


def test_the_edited_track_alone_is_the_track_of_the_edited_copy(saved):
    timeline = saved(awkward())
    before = otio.adapters.write_to_string(timeline)
    outcomes = set()
    for track in range(2):
        for clip in range(len(items_of(tracks_of(timeline)[track])) + 1):
            for kind, args in EDIT_ARGS.items():
                action = edit(kind, clip, track, **args)
                try:
                    copy = apply_edit(timeline, action)
                except EditError as error:
                    with pytest.raises(EditError, match="^" + re.escape(str(error)) + "$"):
                        edited_track(timeline, action)
                    outcomes.add("error")
                    continue
                index, alone = edited_track(timeline, action)
                assert index == track and alone.parent() is None
                assert otio.adapters.write_to_string(alone) == otio.adapters.write_to_string(tracks_of(copy)[track])
                label = track_label(tracks_of(timeline), track)
                problems = track_problems(alone, track, label, timeline_rate(timeline))
                assert problems == [found for found in timeline_problems(copy) if found.startswith(f"{label} ")]
                outcomes.add("problem" if problems else "clean")
    assert otio.adapters.write_to_string(timeline) == before
    assert outcomes == {"error", "problem", "clean"}


def test_impossible_edits_name_the_field(saved):
    timeline = saved(interview(2))
    with pytest.raises(EditError, match=r"target.track 3 is not a track \(the timeline has 1\)"):
        apply_edit(timeline, edit("trim_in", 0, track=3, frames=1))
    with pytest.raises(EditError, match=r"target.clip 9 is not an item of track 'V1' \(2 items\)"):
        apply_edit(timeline, edit("ripple_delete", 9))
    with pytest.raises(EditError, match="args.offset 96 is not inside the clip"):
        apply_edit(timeline, edit("split", 0, offset=96))
    with pytest.raises(EditError, match="args.frames must be a whole number"):
        apply_edit(timeline, edit("trim_in", 0, frames="x"))
    with pytest.raises(EditError, match="already has a transition"):
        apply_edit(apply_edit(timeline, edit("add_transition", 0, frames=8)), edit("add_transition", 0, frames=8))


def test_an_edit_past_the_media_is_a_problem_not_an_exception(saved):
    timeline = saved(interview(2))
    edited = apply_edit(timeline, edit("trim_in", 0, frames=-101))
    assert timeline_problems(edited) == ["V1 clip 1 'INT_1': source_range leaves the media's available_range (starts 1 frame before it)",
                                         "V1 clip 1 'INT_1': source_range starts 1 frame before source frame 0 (a source in point is never negative)"]
    emptied = apply_edit(timeline, edit("trim_out", 0, frames=-96))
    assert "duration 0 frames is not positive" in timeline_problems(emptied)[0]


def test_snapshots_round_trip_every_kind_of_item(saved):
    timeline = saved(awkward())
    again = timeline_from_state(timeline_state(timeline))
    assert timeline_state(again) == timeline_state(timeline)
    assert view_of(again) == view_of(timeline)
