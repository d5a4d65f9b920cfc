"""Faults a video editor's review found in what NEP writes and how it reads a project's EDLs: an EDL
output changed the timeline in memory, one project's EDL saves were read at 24 and 25 fps, an EDL lost
the start timecode, nested stacks and audio tracks silently, FCP XML of a nested stack failed inside
the adapter; each on real OTIO, EDL and FCP XML files the test writes and NEP reads back."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import opentimelineio as otio
import pytest

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_video.collectors.history import HistoryCollector
from nep_video.formats import check_writable, read_timeline, write_timeline
from nep_video.timeline import timeline_rate, tracks_of
from test_video_cli import DATA, run_nep
from video_timelines import clip, interview, write

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange


def with_dissolve(start: RT | None = None) -> otio.schema.Timeline:
    """Five interview clips with a 12-frame dissolve between clips 3 and 4."""
    timeline = interview(5)
    if start is not None:
        timeline.global_start_time = start
    tracks_of(timeline)[0].insert(3, otio.schema.Transition(name="Cross Dissolve", in_offset=RT(6, 24), out_offset=RT(6, 24)))
    return timeline


def event_lines(path: Path) -> list[list[str]]:
    """The four timecodes of each event of an EDL: source in and out, record in and out."""
    return [line.split()[-4:] for line in path.read_text().splitlines() if line[:3].isdigit()]


# -- 1. an EDL output never changes the timeline NEP goes on with ------------------------------------


def test_checking_and_writing_an_edl_leave_the_timeline_as_it_was(tmp_path):
    write(with_dissolve(RT(86400, 24)), tmp_path / "cut.xml", "fcp_xml")
    timeline = read_timeline(tmp_path / "cut.xml")
    before = timeline.deepcopy()
    check_writable(timeline, tmp_path / "next.edl", "--markers")
    assert timeline.is_equivalent_to(before)
    write_timeline(timeline, tmp_path / "next.edl")
    assert timeline.is_equivalent_to(before)


def test_markers_to_an_edl_do_not_change_the_accepted_timeline(tmp_path):
    """`--markers x.edl` made the accepted INT_3 6 frames shorter than the same command without it."""
    write(with_dissolve(RT(86400, 24)), tmp_path / "cut.xml", "fcp_xml")
    outputs = []
    for markers in ((), ("--markers", str(tmp_path / "marked.edl"))):
        out = tmp_path / f"next{len(markers)}.otio"
        result = run_nep("video", "suggest", str(tmp_path / "cut.xml"), "--model", "ngram", "--data", DATA, "--top-k", "5",
                         "--accept", "1", "--out", str(out), *markers, timeout=120)
        assert result.returncode == 0, result.stderr
        outputs.append(otio.adapters.read_from_file(str(out)))
    assert outputs[0].is_equivalent_to(outputs[1])
    assert [item.source_range.duration.value for item in outputs[1].tracks[0] if item.name == "INT_3"] == [96]


# -- 2. one frame rate for the EDL versions of one project -----------------------------------------------

EDL_EVENTS = """TITLE: reel
FCM: NON-DROP FRAME

001  INT_A    V     C        {a_in} 01:00:14:00 01:00:00:00 {cut_1}
* FROM CLIP NAME: INT_A.mov

002  INT_A    V     C        {b_in} {b_out} {cut_1} {cut_2}
* FROM CLIP NAME: INT_A.mov

003  INT_A    V     C        01:00:30:00 01:00:34:00 {cut_2} {end}
* FROM CLIP NAME: INT_A.mov
"""
SAVES_AT_25 = {  # one 25 fps project: only the first two saves hold a frame number of 24
    "e1.edl": dict(a_in="01:00:10:00", cut_1="01:00:04:00", b_in="01:00:20:00", b_out="01:00:24:24", cut_2="01:00:08:24", end="01:00:12:24"),
    "e2.edl": dict(a_in="01:00:10:12", cut_1="01:00:03:13", b_in="01:00:20:00", b_out="01:00:24:24", cut_2="01:00:08:12", end="01:00:12:12"),
    "e3.edl": dict(a_in="01:00:10:12", cut_1="01:00:03:13", b_in="01:00:20:12", b_out="01:00:24:00", cut_2="01:00:07:01", end="01:00:11:01"),
}


def edl_saves(folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    for name, timecodes in SAVES_AT_25.items():
        (folder / name).write_text(EDL_EVENTS.format(**timecodes))
    return [folder / name for name in SAVES_AT_25]


def test_suggest_reads_every_edl_version_at_the_rate_they_show_together(tmp_path):
    first, second, project = edl_saves(tmp_path)
    result = run_nep("video", "suggest", str(project), "--previous", str(first), "--previous", str(second), "--model", "ngram",
                     "--data", DATA, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{project}: 1 track, 3 items, 25 fps; 3 edits of history"), result.stdout
    assert f"note: {project}: read at 25 fps, as the timecodes of the other versions show (alone, e3.edl would read at 24 fps; " \
           "EDLs do not record a frame rate: --rate sets it)" in result.stderr.splitlines()
    told = run_nep("video", "suggest", str(project), "--previous", str(second), "--rate", "30", "--model", "ngram", "--data", DATA, timeout=120)
    assert told.returncode == 0 and "30 fps" in told.stdout.splitlines()[0] and "read at" not in told.stderr  # --rate still decides


def test_the_history_collector_reads_a_projects_edls_at_one_rate(tmp_path):
    edl_saves(tmp_path / "project")
    report = CollectReport()
    (session,) = HistoryCollector().collect(f"{tmp_path / 'project'}?order=name", report)
    assert [(action.kind, action.target["clip"], action.args) for action in session.actions()] == [
        ("trim_in", 0, {"frames": 12}), ("trim_in", 1, {"frames": 12}), ("trim_out", 1, {"frames": -24})]
    assert not [warning for warning in report.warnings if "snapshot" in warning], report.warnings
    assert any(warning.startswith(f"{tmp_path / 'project' / 'e3.edl'}: read at 25 fps") for warning in report.warnings)


def test_watch_reads_later_edl_saves_at_the_rate_an_earlier_one_showed(tmp_path, capsys):
    """Saves: one whose frame numbers stay below 24 (read at 24), one that shows 25 fps (a note, and the
    history goes on from it), one below 24 again (read at 25, diffed as a trim at each end of clip 2)."""
    from nep_core.plugins import get_domain
    from nep_video.cli import Watcher
    from nep_core.inference.factory import load_predictor

    _, second, third = edl_saves(tmp_path / "saves")
    low = tmp_path / "saves" / "e0.edl"  # whole seconds: the same cut at 24 or 25 fps
    low.write_text(EDL_EVENTS.format(a_in="01:00:10:00", cut_1="01:00:04:00", b_in="01:00:20:00", b_out="01:00:24:00",
                                     cut_2="01:00:08:00", end="01:00:12:00"))
    domain = get_domain("video")
    project = tmp_path / "project.edl"
    watcher = Watcher(project, None, domain, load_predictor("repeat-last", domain), 3, None, None, None)
    for number, save in enumerate((low, second, third), 1):
        shutil.copyfile(save, project)
        os.utime(project, ns=(number * 10**9, number * 10**9))
        watcher.run(0.01, number)
        assert timeline_rate(watcher.previous) == (24 if number == 1 else 25)
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert notes == [f"note: {project}: this save's timecodes show 25 fps, not the 24 fps the saves before it were read at; "
                     "the history goes on from this save (EDLs do not record a frame rate: --rate sets it)"]
    states = [event for event in watcher.session.events if event.state is not None]
    assert len(states) == 2  # the first save, and the save that showed 25 fps
    after = watcher.session.events[watcher.session.events.index(states[1]) + 1:]
    assert [(event.action.kind, event.action.target["clip"], event.action.args) for event in after if event.action is not None
            and event.action.edit] == [("trim_in", 1, {"frames": 12}), ("trim_out", 1, {"frames": -24})]


# -- 3. an EDL keeps the start timecode, and what it cannot hold is a one-line error -------------------


def test_an_edl_written_from_a_timeline_starting_at_one_hour_keeps_its_record_start(tmp_path):
    timeline = interview(3)
    timeline.global_start_time = RT(86400, 24)
    tracks_of(timeline)[0].insert(1, otio.schema.Gap(source_range=TR(RT(0, 24), RT(25, 24))))
    write(timeline, tmp_path / "gap.xml", "fcp_xml")
    write_timeline(read_timeline(tmp_path / "gap.xml"), tmp_path / "gap.edl")
    assert [record_in for _, _, record_in, _ in event_lines(tmp_path / "gap.edl")] == ["01:00:00:00", "01:00:05:01", "01:00:09:01"]


def test_what_an_edl_cannot_hold_is_a_one_line_error_naming_the_reason(tmp_path):
    nested = interview(3)
    nested.tracks[0].append(otio.schema.Stack(name="Nested", children=[otio.schema.Track(name="inner", children=[clip("N1", 0, 48)])]))
    marked_audio = interview(3)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(clip("INT_1-audio", 100, 96, media="INT_ANNA_take1"))
    audio[0].markers.append(otio.schema.Marker(name="NEP 1", marked_range=TR(RT(100, 24), RT(1, 24)), metadata={"nep": {"kind": "trim_in"}}))
    marked_audio.tracks.append(audio)
    cases = [(nested, "nested stack 'Nested' (track 0 'V1'): an EDL has no nested stacks (the CMX 3600 adapter leaves them out); "
                      "write .otio instead"),
             (marked_audio, "a suggestion is on audio track 'A1', and the CMX 3600 adapter writes the video track only; write .otio or .xml instead")]
    for timeline, reason in cases:
        with pytest.raises(NepError) as checked:
            check_writable(timeline, tmp_path / "next.edl", "--markers")
        assert str(checked.value) == f"--markers {tmp_path / 'next.edl'}: cannot write this timeline as cmx_3600: {reason}"
        with pytest.raises(NepError, match=re.escape(f"cannot write as cmx_3600: {reason}")):
            write_timeline(timeline, tmp_path / "next.edl")
        assert not (tmp_path / "next.edl").exists()


def test_an_edl_with_audio_events_is_written_back_with_its_video_events_and_says_the_audio_is_left_out(tmp_path):
    """Every EDL with `AA/V` or `A` events was refused as an EDL output (2026-12-07, for a few hours); before that its
    audio was left out without a word."""
    (tmp_path / "av.edl").write_text("TITLE: av\n\n001  INT_A    AA/V  C        01:00:10:00 01:00:14:00 01:00:00:00 01:00:04:00\n"
                                      "* FROM CLIP NAME: INT_A.mov\n\n"
                                      "002  INT_B    V     C        01:00:20:00 01:00:23:00 01:00:04:00 01:00:07:00\n"
                                      "* FROM CLIP NAME: INT_B.mov\n")
    result = run_nep("video", "suggest", str(tmp_path / "av.edl"), "--model", "repeat-last", "--data", DATA, "--markers",
                     str(tmp_path / "marked.edl"), timeout=120)
    assert result.returncode == 0, result.stderr
    wrote = next(line for line in result.stdout.splitlines() if line.startswith("wrote "))
    assert wrote == (f"wrote {tmp_path / 'marked.edl'} (the audio tracks (A1, A2: 2 items) are left out, as the CMX 3600 adapter "
                     "writes the video track only; .otio or .xml keep them)"), wrote
    assert [record_in for _, _, record_in, _ in event_lines(tmp_path / "marked.edl")] == ["01:00:00:00", "01:00:04:00"]


# -- 4. FCP XML of a nested stack: the reason, not the adapter's AttributeError ---------------------------


def test_fcp_xml_of_a_nested_stack_is_a_one_line_error_naming_the_reason(tmp_path):
    """It was the adapter's `AttributeError: 'NoneType' object has no attribute 'start_time'`; given a
    source_range, the adapter writes the stack, but its reader reads it back empty."""
    nested = interview(3)
    nested.tracks[0].append(otio.schema.Stack(name="Nested", children=[otio.schema.Track(name="inner", children=[clip("N1", 0, 48)])]))
    write(nested, tmp_path / "nested.otio")
    result = run_nep("video", "suggest", str(tmp_path / "nested.otio"), "--model", "repeat-last", "--data", DATA, "--markers",
                     str(tmp_path / "next.xml"), timeout=120)
    assert result.returncode == 2 and result.stderr == (
        f"error: --markers {tmp_path / 'next.xml'}: cannot write this timeline as fcp_xml: nested stack 'Nested' (track 0 'V1'): "
        "the FCP 7 XML adapter fails on a nested stack, or writes one that reads back empty; write .otio instead\n")
    assert not (tmp_path / "next.xml").exists()
    list(nested.tracks[0])[-1].source_range = TR(RT(0, 24), RT(48, 24))
    with pytest.raises(NepError, match="nested stack 'Nested' "):
        write_timeline(nested, tmp_path / "next.xml")


# -- 5. a lone transition is said, a new gap is named as one, an output name ending in / is refused ---------


def test_a_transition_without_an_item_on_each_side_is_read_with_a_note(tmp_path):
    timeline = interview(2)
    tracks_of(timeline)[0].insert(0, otio.schema.Transition(name="Fade", in_offset=RT(0, 24), out_offset=RT(12, 24)))
    write(timeline, tmp_path / "fade.otio")
    notes: list[str] = []
    read = read_timeline(tmp_path / "fade.otio", notes=notes)
    assert isinstance(read.tracks[0][0], otio.schema.Transition)
    assert notes == [f"{tmp_path / 'fade.otio'}: V1 transition 'Fade' at the start: a transition needs an item on each side; "
                     "read and kept as it is (a fade in or out at a track's end is written so)"]


def test_a_new_gap_is_named_as_a_gap_not_as_media_missing_from_the_bin(tmp_path):
    before = interview(3)
    after = interview(3)
    tracks_of(after)[0].insert(1, otio.schema.Gap(source_range=TR(RT(0, 24), RT(25, 24))))
    write(before, tmp_path / "v1.otio")
    write(after, tmp_path / "v2.otio")
    report = CollectReport()
    list(HistoryCollector().collect(f"{tmp_path / 'v1.otio'},{tmp_path / 'v2.otio'}", report))
    assert report.warnings == [f"{tmp_path / 'v2.otio'}: track 0: a new 25-frame gap, which no action inserts (a lift leaves one "
                               "where a clip was); a snapshot of this version follows its actions"]


def test_an_output_name_ending_in_a_slash_is_refused_in_one_line(tmp_path):
    write(interview(3), tmp_path / "cut.otio")
    for option, name in (("--out", "somedir.otio/"), ("--markers", "marked.otio/"), ("--png", "next.png/")):
        named = f"{tmp_path}/{name}"  # as typed: a Path would drop the /
        args = ["--accept", "1", option, named] if option == "--out" else [option, named]
        result = run_nep("video", "suggest", str(tmp_path / "cut.otio"), "--model", "repeat-last", "--data", DATA, *args, timeout=120)
        assert result.returncode == 2 and result.stderr == (
            f"error: {option} {named}: a name ending in '/' is a folder; pass a file name\n"), result.stderr
        assert not (tmp_path / name.rstrip("/")).exists()


def test_a_marker_on_a_track_itself_is_kept_in_an_edl_or_refused_on_an_audio_track(tmp_path):
    """An insert after a track's last item is marked on the track, which the CMX 3600 adapter does not write: the
    suggestion was lost from the EDL without a word (on an audio track too, past the audio check)."""
    timeline = interview(3)
    insert = otio.schema.Marker(name="NEP 1: insert", marked_range=TR(RT(0, 24), RT(1, 24)), metadata={"nep": {"kind": "insert"}})
    timeline.tracks[0].markers.append(insert)
    write_timeline(timeline, tmp_path / "marked.edl")
    assert "NEP 1: INSERT" in (tmp_path / "marked.edl").read_text() and len(timeline.tracks[0].markers) == 1  # on a copy
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(clip("INT_1-audio", 100, 96, media="INT_ANNA_take1"))
    audio.markers.append(otio.schema.Marker(name="NEP 2: insert", marked_range=TR(RT(0, 24), RT(1, 24)), metadata={"nep": {}}))
    timeline.tracks.append(audio)
    with pytest.raises(NepError, match="a suggestion is on audio track 'A1'"):
        check_writable(timeline, tmp_path / "next.edl", "--markers")


def test_labels_of_malformed_actions_and_names_with_line_breaks_stay_one_line():
    """A label is made for any decoded action; a name with a line break made a message of two lines."""
    from nep_core.actions import Action
    from nep_video.action_space import VideoActionSpace
    from nep_video.render import edit_label
    from nep_video.timeline import timeline_problems

    timeline = interview(2)
    for target, args in (({"track": 0}, {"frames": 2}), ({"track": "0", "clip": 1}, {"frames": 2}), ({"track": 0, "clip": -1}, {}),
                         ({"track": 0, "clip": 0}, {"frames": 2.5}), ({"track": 0, "clip": 0}, None)):
        action = Action("trim_in", target, args or {})
        label = edit_label(action, timeline)
        assert "\n" not in label and (label == VideoActionSpace().describe(action) or label.startswith("trim in V1 clip 1")), (target, label)
    timeline.tracks[0].name = "V\n1"
    timeline.tracks[0][0].name = "a\nb"
    timeline.tracks[0][0].source_range = TR(RT(0, 24), RT(-5, 24))
    problems = [str(problem) for problem in timeline_problems(timeline)]
    assert problems and all("\n" not in problem for problem in problems) and "V 1 clip 1 'a b'" in problems[0], problems
