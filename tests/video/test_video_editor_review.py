"""A video editor's second review: items numbered alike everywhere, timecodes and markers at the edit
point, media used again inserted from the bin, the history collector's sessions as documented, each
EDL marker written once; on real OTIO and EDL files the tests write and NEP reads back."""

from __future__ import annotations

import re
from pathlib import Path

import opentimelineio as otio
import pytest

from nep_core.actions import Action
from nep_core.collector import CollectReport
from nep_core.encoder import context_from_events
from nep_core.errors import NepError
from nep_core.inference.predictor import Prediction, Suggestion
from nep_video.action_space import VideoActionSpace
from nep_video.cli import add_markers, editor_terms, editor_timeline
from nep_video.collectors.history import HistoryCollector, diff_events, version_events
from nep_video.formats import read_timeline, write_timeline
from nep_video.replay import timeline_at
from nep_video.timeline import items_of, media_bin, tracks_of, view_of
from video_timelines import clip, interview, write

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
REPO = Path(__file__).resolve().parents[2]
HOUR = RT(86400, 24)  # 01:00:00:00


def edit(kind: str, clip_index: int, **args) -> Action:
    return Action(kind, {"track": 0, "clip": clip_index}, args)


def dissolve(frames: float, name: str = "Cross Dissolve") -> otio.schema.Transition:
    return otio.schema.Transition(name=name, transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                                  in_offset=RT(frames / 2, 24), out_offset=RT(frames / 2, 24))


def one_track(*items, start: RT = HOUR) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="cut", global_start_time=start)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for item in items:
        track.append(item)
    timeline.tracks.append(track)
    return timeline


def saved(timeline: otio.schema.Timeline, path: Path) -> otio.schema.Timeline:
    write(timeline, path)
    return read_timeline(path)


# -- 1. items numbered as `nep video suggest` numbers them ----------------------------------------------


def test_read_errors_name_tracks_and_items_as_suggest_does_transitions_not_counted(tmp_path):
    gap = otio.schema.Gap(source_range=TR(RT(0, 24), RT(24, 24)))
    path = tmp_path / "long.otio"
    write(one_track(clip("A", 100, 48), dissolve(200), clip("B", 300, 48), gap, clip("C", 500, 48)), path)
    with pytest.raises(NepError, match=r"^.*long\.otio: V1 transition 'Cross Dissolve' after clip 1 'A': the transition is longer"):
        read_timeline(path)
    zero = one_track(clip("A", 100, 48), dissolve(12), clip("B", 300, 48), otio.schema.Gap(source_range=TR(RT(0, 24), RT(24, 24))),
                     clip("C", 500, 48))
    items_of(tracks_of(zero)[0])[3].source_range = TR(RT(500, 24), RT(0, 24))
    write(zero, tmp_path / "zero.otio")
    with pytest.raises(NepError, match=r"zero\.otio: V1 clip 4 'C': duration 0 frames is not positive"):
        read_timeline(tmp_path / "zero.otio")
    fine = saved(one_track(clip("A", 100, 48), dissolve(12), clip("B", 300, 48), gap.deepcopy(), clip("C", 500, 48)), tmp_path / "fine.otio")
    assert editor_terms(fine, edit("trim_in", 3, frames=2)).startswith("trim in V1 clip 4 'C' at ")  # the same item, the same words


def test_labels_count_tracks_and_items_from_1_and_the_render_legend_names_them_as_suggest_does(tmp_path, monkeypatch):
    from nep_video import render

    space = VideoActionSpace()
    assert space.describe(edit("trim_out", 3, frames=-12)) == "trim out track 1 item 4 by -12 frames"
    assert space.describe(edit("move", 3, to=0)) == "move track 1 item 4 to position 1"
    assert space.describe(edit("insert", 2, media=0, **{"in": 0}, frames=24)) == "insert bin media 1 (24 frames from frame 0) at track 1 item 3"
    timeline = saved(one_track(clip("A", 100, 48), dissolve(12), clip("B", 300, 48)), tmp_path / "cut.otio")
    monkeypatch.setattr("nep_video.replay.timeline_at", lambda context: type("Replayed", (), {"view": view_of(timeline), "timeline": timeline}))
    labels = []
    monkeypatch.setattr(render, "render_timeline", lambda view, best, label, actual: labels.append(label) or render.Image.new("RGB", (4, 4)))
    outcome = type("Outcome", (), {"example": type("Example", (), {"context": None, "session_id": "s", "trigger": 0}),
                                   "best": edit("trim_out", 1, frames=-12), "reference": edit("add_transition", 0, frames=12)})
    render.render_outcomes([outcome], tmp_path / "pictures", 1)
    assert "trim out V1 clip 2 'B' by -12 frames" in labels[0] and "add a 12-frame dissolve after V1 clip 1 'A'" in labels[0]


# -- 2. timecodes and markers where the edit happens ------------------------------------------------------


def test_printed_timecodes_and_markers_are_at_the_edit_point(tmp_path):
    timeline = saved(interview(6), tmp_path / "cut.otio")  # 96-frame clips
    timeline.global_start_time = HOUR
    # V1 clip 4 runs from 01:00:12:00 to the cut at 01:00:16:00
    assert editor_terms(timeline, edit("trim_in", 3, frames=12)) == "trim in V1 clip 4 'INT_4' at 01:00:12:00: +12 frames"
    assert editor_terms(timeline, edit("trim_out", 3, frames=-12)) == "trim out V1 clip 4 'INT_4' at 01:00:16:00: -12 frames"
    assert editor_terms(timeline, edit("roll", 3, frames=6)) == "roll the cut after V1 clip 4 'INT_4' at 01:00:16:00: +6 frames"
    assert editor_terms(timeline, edit("add_transition", 3, frames=12)) == "add a 12-frame dissolve after V1 clip 4 'INT_4' at 01:00:16:00"
    assert editor_terms(timeline, edit("split", 3, offset=30)) == "split V1 clip 4 'INT_4' at 01:00:13:06, 30 frames in"
    actions = [edit("trim_out", 3, frames=-12), edit("add_transition", 3, frames=12), edit("trim_in", 3, frames=12), edit("split", 3, offset=30)]
    marked_path = tmp_path / "marked.otio"
    write_timeline(add_markers(timeline, Prediction([Suggestion(action, 0.2) for action in actions], 0.1)), marked_path)
    markers = items_of(tracks_of(read_timeline(marked_path))[0])[3].markers  # source frames 700 to 796
    assert [marker.marked_range.start_time.to_frames() for marker in markers] == [795, 795, 700, 730]  # a cut: the clip's last frame
    assert markers[0].name.startswith("NEP 1: trim out V1 clip 4 'INT_4' at 01:00:16:00")


# -- 3. media used again is an insert from the bin -----------------------------------------------------------


def versions(tmp_path: Path) -> list[Path]:
    """B1 on the timeline, taken off, then put back at the end with other frames of its media."""
    interview_a = [clip("I1", 0, 96, media="a"), clip("I2", 200, 96, media="a")]
    cuts = [[interview_a[0], clip("B1", 0, 72, media="b", available=(100, 2400)), interview_a[1]],
            [interview_a[0], interview_a[1]],
            [interview_a[0], interview_a[1], clip("B1", 110, 48, media="b", available=(100, 2400))]]
    paths = []
    for number, items in enumerate(cuts, 1):
        paths.append(tmp_path / f"v{number}.otio")
        write(one_track(*[item.deepcopy() for item in items]), paths[-1])
    return paths


def test_media_used_in_an_earlier_version_is_inserted_again_from_the_bin(tmp_path):
    paths = versions(tmp_path)
    report = CollectReport()
    (session,) = HistoryCollector().collect(",".join(map(str, paths)), report)
    assert not report.warnings
    insert = session.actions()[-1]
    assert [action.kind for action in session.actions()] == ["ripple_delete", "insert"]
    assert insert.target == {"track": 0, "clip": 2} and insert.args["in"] == 10 and insert.args["frames"] == 48
    assert sum(event.state is not None for event in session.events) == 1  # the actions say it all: no snapshot added
    replayed = timeline_at(context_from_events(session.events, session.id)).timeline
    assert view_of(replayed).tracks == view_of(read_timeline(paths[-1])).tracks


def test_the_watch_diffs_each_save_with_the_media_of_the_saves_before(tmp_path):
    saves = [read_timeline(path) for path in versions(tmp_path)]
    seen: list[dict] = []
    events = version_events([(tmp_path / "cut.otio", saves[0])], 3.0, 5.0, CollectReport(), seen=seen)  # as Watcher.saved does
    for before, after in zip(saves, saves[1:]):
        events += diff_events(before, after, tmp_path / "cut.otio", events[-1].t + 1, 0.5, CollectReport(), seen)
    assert [event.action.kind for event in events if event.action] == ["ripple_delete", "insert"]
    assert sum(event.state is not None for event in events) == 1


def test_suggestions_on_the_editor_timeline_name_media_of_earlier_versions(tmp_path):
    paths = versions(tmp_path)[:2]
    timelines = [(path, read_timeline(path)) for path in paths]
    context = context_from_events(version_events(timelines, 3.0, 5.0, CollectReport()), "s")
    shown, exact = editor_timeline(timelines[-1][1], context)
    assert exact and [entry.key for entry in media_bin(shown)] == [entry.key for entry in timeline_at(context).view.bin]
    media = [entry.name for entry in media_bin(shown)].index("B1")
    assert editor_terms(shown, edit("insert", 2, media=media, **{"in": 0}, frames=24)).startswith("insert 'B1' (24 frames")


# -- 4. the history collector's sessions, as documented -------------------------------------------------------


def test_the_docs_say_how_many_sessions_a_project_becomes_and_the_collector_agrees(tmp_path):
    docs = (REPO / "docs/domains/video.md").read_text()
    assert "Each project becomes one session:" not in docs
    assert "three sessions" in docs
    for number in range(5):
        write(interview(4 + number), tmp_path / f"v{number}.otio")
    sessions = list(HistoryCollector().collect(f"{tmp_path}?order=name", CollectReport()))
    assert [session.meta["split"] for session in sessions] == ["train", "val", "test"]
    (single,) = HistoryCollector().collect(f"{tmp_path}?order=name&by_time=0", CollectReport())
    assert "split" not in single.meta


# -- 5. each marker once in an EDL -----------------------------------------------------------------------


def test_an_edl_with_a_dissolve_writes_each_marker_once(tmp_path):
    path = tmp_path / "dissolve.edl"
    path.write_text("TITLE: dissolve cut\nFCM: NON-DROP FRAME\n\n"
                    "001  INT_A    V     C        01:00:10:00 01:00:14:00 01:00:00:00 01:00:04:00\n"
                    "002  INT_A    V     C        01:00:14:00 01:00:14:00 01:00:04:00 01:00:04:00\n"
                    "002  BROLL    V     D    012 00:00:05:00 00:00:08:00 01:00:04:00 01:00:07:00\n"
                    "003  INT_A    V     C        01:00:30:00 01:00:34:10 01:00:07:00 01:00:11:10\n")
    timeline = read_timeline(path, rate=24)
    actions = [edit("split", 0, offset=12), edit("split", 1, offset=12)]
    marked = tmp_path / "marked.edl"
    write_timeline(add_markers(timeline, Prediction([Suggestion(action, 0.3) for action in actions], 0.1)), marked)
    text = marked.read_text()
    assert len(re.findall(r"^\* LOC: .* NEP 1: ", text, re.MULTILINE)) == 1  # not again on the dissolve's outgoing side
    assert len(re.findall(r"^\* LOC: .* NEP 2: ", text, re.MULTILINE)) == 1
    back = [[marker.name for marker in item.markers] for item in items_of(tracks_of(read_timeline(marked, rate=24))[0])]
    assert [len(names) for names in back] == [1, 1, 0] and back[0][0].startswith("NEP 1: SPLIT V1 CLIP 1")
