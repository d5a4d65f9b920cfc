"""Saved versions of a project diffed into edits: the actions reproduce each next version, from .otio, EDL and FCP XML."""

from __future__ import annotations

import os

import pytest

from nep_core.actions import NO_EDIT, Action
from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_core.examples import make_examples
from nep_core.plugins import get_domain
from nep_video.collectors.history import HistoryCollector
from nep_video.diff import diff_timelines
from nep_video.edits import apply_edit
from nep_video.formats import read_timeline
from nep_video.replay import timeline_at
from nep_video.encoder import VideoEncoder
from nep_video.action_space import VideoActionSpace
from nep_core.encoder import context_from_events
from nep_video.snapshot import timeline_state
from video_timelines import interview, write


def edit(kind, clip, track=0, **args):
    return Action(kind, {"track": track, "clip": clip}, args)


def apply_all(timeline, actions):
    for action in actions:
        timeline = apply_edit(timeline, action)
    return timeline


EDIT_SCRIPTS = {
    "heads": [edit("trim_in", index, frames=12) for index in range(4)],
    "tails and a slip": [edit("trim_out", 0, frames=-10), edit("slip", 2, frames=24)],
    "a pause cut out": [edit("split", 1, offset=40), edit("split", 2, offset=12), edit("ripple_delete", 2)],
    "roll": [edit("roll", 1, frames=-8)],
    "lift and close": [edit("delete", 2)],
    "ripple delete": [edit("ripple_delete", 0), edit("ripple_delete", 2)],
    "move": [edit("move", 3, to=0)],
    "insert from the bin": [edit("insert", 2, media=0, **{"in": 0, "frames": 48})],
    "dissolves": [edit("add_transition", 0, frames=12), edit("add_transition", 2, frames=12)],
}


@pytest.mark.parametrize("name", EDIT_SCRIPTS)
def test_the_diff_reproduces_the_next_version(name):
    before = interview(5)
    after = apply_all(before, EDIT_SCRIPTS[name])
    diff = diff_timelines(before, after)
    assert diff.exact and not diff.unexpressed, (diff.actions, diff.unexpressed)
    assert timeline_state(apply_all(before, diff.actions)) == timeline_state(after)


def test_the_diff_finds_the_edits_an_editor_made():
    before = interview(5)
    assert diff_timelines(before, apply_all(before, EDIT_SCRIPTS["heads"])).actions == EDIT_SCRIPTS["heads"]
    assert diff_timelines(before, apply_all(before, EDIT_SCRIPTS["roll"])).actions == EDIT_SCRIPTS["roll"]
    assert diff_timelines(before, apply_all(before, EDIT_SCRIPTS["move"])).actions == EDIT_SCRIPTS["move"]
    pause = diff_timelines(before, apply_all(before, EDIT_SCRIPTS["a pause cut out"])).actions
    assert [action.kind for action in pause] == ["split", "trim_in"]  # the same cut, written as split then trim


def test_what_cannot_be_written_is_reported():
    before = interview(3)
    after = interview(3)
    import opentimelineio as otio

    after.tracks.append(otio.schema.Track(name="V2"))
    diff = diff_timelines(before, after)
    assert diff.unexpressed == ["the number of tracks changed (1 to 2)"]


def versions(folder, timelines, suffix, adapter=None):
    folder.mkdir(parents=True, exist_ok=True)
    for number, timeline in enumerate(timelines):
        path = folder / f"cut_v{number + 1}{suffix}"
        write(timeline, path, adapter)
        os.utime(path, (1_700_000_000 + 60 * (len(timelines) - number), 1_700_000_000 + 60 * (len(timelines) - number)))
    return folder


@pytest.mark.parametrize("suffix, adapter", [(".otio", None), (".edl", "cmx_3600"), (".xml", "fcp_xml")])
def test_history_of_saved_versions_becomes_one_session_that_replays(tmp_path, suffix, adapter):
    first = interview(5)
    second = apply_all(first, [edit("trim_in", index, frames=12) for index in range(3)])
    third = apply_all(second, [edit("trim_in", 3, frames=12), edit("ripple_delete", 4)])
    folder = versions(tmp_path / "project", [first, second, third], suffix, adapter)
    report = CollectReport()
    (session,) = HistoryCollector().collect(f"{folder}?order=name", report)
    actions = session.actions()
    assert actions == [edit("trim_in", index, frames=12) for index in range(4)] + [edit("ripple_delete", 4)]
    assert report.counts["versions"] == 3 and report.counts["trim_in"] == 4 and not report.warnings
    final = timeline_at(context_from_events(session.events)).timeline
    assert timeline_state(final)["timeline"]["tracks"][0]["items"] == timeline_state(read_timeline(folder / f"cut_v3{suffix}"))["timeline"]["tracks"][0]["items"]
    # by modification time the versions run backwards here (v3 is the oldest): the edits undo them
    (backwards,) = HistoryCollector().collect(str(folder), CollectReport())
    assert backwards.actions()[:2] == [edit("trim_in", 3, frames=-12), edit("insert", 4, media=0, **{"in": 900, "frames": 96})]
    encoder = VideoEncoder(VideoActionSpace())
    assert "@trim_in" in encoder.encode(context_from_events(session.events))


def test_history_reports_unreadable_versions_and_bad_arguments(tmp_path):
    folder = versions(tmp_path / "p", [interview(3), interview(3), apply_all(interview(3), [edit("trim_in", 0, frames=4)])], ".otio")
    (folder / "cut_v2b.otio").write_text("{broken")
    report = CollectReport()
    (session,) = HistoryCollector().collect(f"{folder}?order=name", report)
    assert report.counts["files that cannot be read (skipped)"] == 1
    assert any("cut_v2b.otio: cannot read as otio_json" in warning for warning in report.warnings)
    assert session.actions() == [edit("trim_in", 0, frames=4)]
    with pytest.raises(NepError, match="history: option 'order' is mtime or name, not 'size'"):
        list(HistoryCollector().collect(f"{folder}?order=size", CollectReport()))
    with pytest.raises(NepError, match="is not a folder of saved versions"):
        list(HistoryCollector().collect(str(tmp_path / "nowhere"), CollectReport()))


def test_a_folder_of_projects_is_one_session_each(tmp_path):
    for name in ("a", "b"):
        versions(tmp_path / "all" / name, [interview(3), apply_all(interview(3), [edit("trim_out", 1, frames=-6)])], ".otio")
    sessions = list(HistoryCollector().collect(str(tmp_path / "all"), CollectReport()))
    assert len(sessions) == 2 and {session.source for session in sessions} == {"history:a", "history:b"}


def test_a_long_history_is_split_in_time_so_eval_judges_the_newest_edits(tmp_path):
    timelines = [interview(6)]
    for index in range(6):
        timelines.append(apply_all(timelines[-1], [edit("trim_out", index, frames=-8)]))
    folder = versions(tmp_path / "long", timelines, ".otio")
    sessions = list(HistoryCollector().collect(f"{folder}?order=name", CollectReport()))
    assert [session.meta["split"] for session in sessions] == ["train", "val", "test"]
    assert [len(session.actions()) for session in sessions] == [4, 5, 6]  # each part sees the history before it
    domain = get_domain("video")
    examples = [make_examples(session, domain) for session in sessions]
    # train: the first edits' successors; its last edit's successor is in val, so it makes no example
    assert [example.target for example in examples[0]] == [edit("trim_out", index, frames=-8) for index in (1, 2, 3)]
    assert [example.target for example in examples[1]] == [edit("trim_out", 4, frames=-8)]
    assert [example.target for example in examples[2]] == [edit("trim_out", 5, frames=-8), NO_EDIT]  # the newest edit, then the end
    assert len(examples[2][0].context.actions()) == 5
    (whole,) = HistoryCollector().collect(f"{folder}?order=name&by_time=0", CollectReport())
    assert len(whole.actions()) == 6 and "split" not in whole.meta


def test_a_context_asked_again_gets_the_same_timeline_and_a_grown_one_its_own():
    from nep_core.session import Event
    from nep_video.snapshot import timeline_state as state_of

    events = [Event(0.0, state=state_of(interview(4))), Event(1.0, action=edit("trim_in", 0, frames=12))]
    context = context_from_events(events)
    first = timeline_at(context)
    assert timeline_at(context) is first  # the encoder, the grammar and each check share one replay
    context.history.append(Event(2.0, action=edit("trim_in", 1, frames=12)))
    grown = timeline_at(context)  # the same object, grown in place: replayed again
    assert grown is not first
    before, after = first.view.tracks[0], grown.view.tracks[0]
    assert after[0].head == before[0].head and after[1].head == before[1].head + 12


def test_eval_with_baselines_on_a_history_whose_older_part_teaches_nothing_is_a_one_line_error(tmp_path):
    import subprocess
    import sys

    first = interview(6)
    trimmed = apply_all(first, [edit("trim_out", 0, frames=-8)])
    timelines = [first, trimmed, trimmed]  # the second save changed nothing: the train part is one edit, cut short
    for index in (1, 2):
        timelines.append(apply_all(timelines[-1], [edit("trim_out", index, frames=-8)]))
    folder = versions(tmp_path / "short", timelines, ".otio")
    result = subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", "eval", "--domain", "video", "--model", "ngram",
         "--data", f"history:{folder}?order=name", "--baselines"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "300"},
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"the train split of history:{folder}?order=name has no examples to fit the baselines on" in result.stderr
