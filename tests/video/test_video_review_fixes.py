"""Faults an editor's review found (clips already past their media, negative source in points, frame
rates, NDF timecode, dissolves removed silently, dropped suggestions, markers, the item limit...),
each on real OTIO, EDL and FCP XML files the test writes and NEP reads back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
import pytest

from nep_core.actions import Action
from nep_core.collector import CollectReport
from nep_core.encoder import context_from_events
from nep_core.errors import NepError
from nep_core.inference.predictor import Prediction, Suggestion
from nep_core.plugins import get_domain
from nep_video.collectors.history import version_events
from nep_video.formats import read_timeline, write_timeline
from nep_video.timeline import items_of, source_range, timeline_rate, tracks_of
from nep_video.verifier import TimelineVerifier
from test_video_cli import run_nep
from video_timelines import clip, interview, write

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
REPO = Path(__file__).resolve().parents[2]
NTSC = 30000 / 1001


def read_context(path: Path):
    """The timeline in ``path`` as read, and a context holding its snapshot (what `nep video suggest` asks on)."""
    timeline = read_timeline(path)
    return timeline, context_from_events(version_events([(path, timeline)], 3.0, 5.0, CollectReport()), f"s-{path.name}")


def one_track(*items, start: RT | None = RT(0, 24), name: str = "cut") -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name=name, global_start_time=start)
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for item in items:
        track.append(item)
    timeline.tracks.append(track)
    return timeline


def past_media(tmp_path: Path) -> Path:
    """Five clips of one take; K3 (item 3) already runs 28 frames past the end of its media."""
    clips = [clip(f"K{index}", 100, 48, media="take", available=(0, 200)) for index in range(5)]
    clips[3].source_range = TR(RT(180, 24), RT(48, 24))
    path = tmp_path / "past_media.otio"
    write(one_track(*clips), path)
    return path


def edit(kind: str, clip_index: int, **args) -> Action:
    return Action(kind, {"track": 0, "clip": clip_index}, args)


# -- 1. a problem the timeline already has is judged by what it is, not where ------------------------


def test_edits_that_move_items_are_not_blamed_for_a_clip_already_past_its_media_and_pushing_it_further_is(tmp_path):
    timeline, context = read_context(past_media(tmp_path))
    verifier = TimelineVerifier()
    for fine in (edit("ripple_delete", 0), edit("delete", 1), edit("move", 3, to=0), edit("split", 3, offset=10),
                 edit("trim_in", 3, frames=-10), edit("trim_out", 3, frames=-28), edit("insert", 0, media=0, **{"in": 0}, frames=24)):
        verdict = verifier.verify(context, fine)
        assert verdict.valid, (fine, verdict.details)
    further = verifier.verify(context, edit("trim_out", 3, frames=20))
    assert not further.valid
    assert further.details["error"] == ("V1 clip 4 'K3': source_range leaves the media's available_range "
                                        "(ends 48 frames past it); 28 before the edit")
    assert not verifier.verify(context, edit("slip", 3, frames=5)).valid
    another = verifier.verify(context, edit("trim_out", 1, frames=60))  # a second clip past the same media
    assert not another.valid and "V1 clip 2 'K1'" in another.details["error"]
    # --accept applies and checks the same way on the editor's timeline
    from nep_video.cli import accepted_edit

    raw = Prediction([Suggestion(edit("ripple_delete", 0), 0.5), Suggestion(edit("trim_out", 3, frames=20), 0.3)], 0.1)
    action, edited = accepted_edit(timeline, raw, 1, tmp_path / "next.otio", "--out")
    assert [item.name for item in items_of(tracks_of(edited)[0])] == ["K1", "K2", "K3", "K4"]
    with pytest.raises(NepError, match=r"would leave the timeline inconsistent: .*ends 48 frames past it\); 28 before the edit; nothing written$"):
        accepted_edit(timeline, raw, 2, tmp_path / "next.otio", "--out")


def test_suggest_prints_the_edits_around_a_clip_past_its_media_and_says_how_many_the_checks_dropped(tmp_path):
    """End to end, with a model that proposes what the reviewer's hostile one did."""
    project = past_media(tmp_path)
    driver = tmp_path / "driver.py"
    driver.write_text('''
import json, sys
import nep_video.cli as video_cli
from nep_core.actions import Action
from nep_core.inference.predictor import Prediction, Suggestion

ACTIONS = json.loads(sys.argv[1])

class Fixed:
    thread_safe = True
    def predict(self, context, k):
        return Prediction([Suggestion(Action(a["kind"], a["target"], a.get("args", {})), 0.9 / (n + 1)) for n, a in enumerate(ACTIONS)], 0.01)

def fixed(model, data):
    from nep_core.plugins import get_domain
    return get_domain("video"), Fixed()

video_cli._predictor = fixed
from nep_core.cli.main import main
sys.argv = ["nep", "video", "suggest", *sys.argv[2:]]
main()
''')

    def suggest(actions, *args):
        return subprocess.run([sys.executable, str(driver), json.dumps(actions), str(project), "--model", "ngram", *args],
                              capture_output=True, text=True, timeout=120)

    both = [{"kind": "ripple_delete", "target": {"track": 0, "clip": 0}},
            {"kind": "trim_out", "target": {"track": 0, "clip": 3}, "args": {"frames": 20}}]
    result = suggest(both)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("1. ripple delete V1 clip 1 'K0' at 00:00:00:00")
    assert lines[2] == "(1 more suggestion dropped: not applicable to this timeline, or refused by the timeline verifier)"
    assert lines[3] == "no edit: p=0.01"
    refused = suggest(both[1:], "--accept", "1", "--out", str(tmp_path / "next.otio"))
    assert refused.stdout.splitlines()[1:] == ["the model's 1 suggestion was dropped (not applicable to this timeline, or refused by the timeline verifier)",
                                               "no edit: p=0.01"]  # not "<- best": the model ranked the edit higher
    assert refused.returncode == 2 and refused.stderr == ("error: no suggestion to accept: the model's 1 suggestion was dropped (not applicable "
                                                          "to this timeline, or refused by the timeline verifier); nothing written\n")
    assert not (tmp_path / "next.otio").exists()


# -- 2. a source in point is never negative -------------------------------------------------------------


def test_a_clip_without_a_media_range_is_never_trimmed_or_slipped_before_source_frame_0(tmp_path):
    path = tmp_path / "no_media_range.otio"
    write(one_track(clip("NR0", 10, 48, available=None), clip("NR1", 5, 48, available=None), clip("NR2", 30, 48, available=None)), path)
    timeline, context = read_context(path)
    verifier = TimelineVerifier()
    assert verifier.verify(context, edit("trim_in", 0, frames=-10)).valid
    assert verifier.verify(context, edit("slip", 0, frames=-10)).valid
    for bad in (edit("trim_in", 0, frames=-11), edit("slip", 0, frames=-500), edit("roll", 0, frames=-6)):
        verdict = verifier.verify(context, bad)
        assert not verdict.valid, bad
        assert "source_range starts" in verdict.details["error"] and "before source frame 0" in verdict.details["error"]
    space = get_domain("video").action_space.for_context(context)
    lowest = {kind: min(int(token[2:]) for token in space.allowed_next([f"@{kind}", "track=0", "c=0"])) for kind in ("trim_in", "slip", "roll")}
    assert lowest == {"trim_in": -10, "slip": -10, "roll": -5}  # on NR0 (the anchor); a roll moves NR1's in point, at frame 5


# -- 3. frame rates ---------------------------------------------------------------------------------


def test_with_no_start_time_the_rate_most_media_are_at_wins_and_a_note_says_so(tmp_path):
    path = tmp_path / "first_clip_2997.otio"
    write(one_track(clip("M0", 500, 30, NTSC), clip("M1", 500, 96), clip("M2", 500, 96), start=None), path)
    notes: list[str] = []
    timeline = read_timeline(path, notes=notes)
    assert timeline_rate(timeline) == 24.0
    assert notes == [f"{path}: no start timecode or sequence rate says the timeline's frame rate, and its clips are at 29.97 and 24 fps; "
                     "frame counts are at 24 fps, the rate most of their media are at"]
    # no trim changes the choice (summing the clips' time, a 2-frame trim of `a` switched 24 fps to 25)
    from nep_video.edits import apply_edit

    mixed = one_track(clip("a", 100, 100, 25.0), clip("b", 100, 97), start=None)
    assert timeline_rate(mixed) == timeline_rate(apply_edit(mixed, edit("trim_out", 0, frames=2))) == 24.0
    # one long 24 fps take cut into many clips outweighs short b-roll files at 29.97 (their media's lengths)
    take = [clip(f"T{index}", 1000 * index, 96, media="take", available=(0, 24 * 3600)) for index in range(4)]
    broll = [clip(f"R{index}", 0, 60, NTSC, available=(0, 300)) for index in range(5)]
    assert timeline_rate(one_track(*take, *broll, start=None)) == 24.0
    declared = one_track(clip("M0", 500, 30, NTSC), start=None)
    declared.metadata["fcp_xml"] = {"rate": {"timebase": "25", "ntsc": "FALSE"}}  # as the FCP XML reader keeps a sequence's rate
    assert timeline_rate(declared) == 25.0


def test_a_rate_that_is_no_frame_rate_falls_back_to_24_fps_with_a_note_naming_the_file(tmp_path):
    path = tmp_path / "r7_5.otio"
    write(one_track(clip("S0", 100, 96, 7.5), clip("S1", 500, 96, 7.5), start=RT(0, 7.5)), path)
    notes: list[str] = []
    assert timeline_rate(read_timeline(path, notes=notes)) == 24.0
    assert notes == [f"{path}: no frame rate NEP takes (8 to 240 fps): its times are at 7.5 units a second; frame counts are at 24 fps"]


def test_a_trim_on_a_clip_of_another_rate_lands_on_its_own_whole_frames_and_the_line_says_how_many(tmp_path):
    from nep_video.cli import editor_terms
    from nep_video.edits import apply_edit

    path = tmp_path / "mixed.otio"
    write(one_track(clip("A", 100, 96), clip("B2997", 500, 96, NTSC), clip("C", 100, 96)), path)
    timeline = read_timeline(path)
    trim = edit("trim_in", 1, frames=12)  # 12 frames at 24 fps are 14.985 frames at 29.97
    edited = items_of(tracks_of(apply_edit(timeline, trim))[0])[1]
    assert (source_range(edited).start_time.value, source_range(edited).duration.value) == (515.0, 81.0)
    assert editor_terms(timeline, trim) == "trim in V1 clip 2 'B2997' at 00:00:04:00: +12 frames (+15 frames at the clip's 29.97 fps)"
    split = apply_edit(timeline, edit("split", 1, offset=10))  # 12.4875 frames at 29.97
    halves = [source_range(item) for item in items_of(tracks_of(split)[0])[1:3]]
    assert [(half.start_time.value, half.duration.value) for half in halves] == [(500.0, 12.0), (512.0, 84.0)]
    assert editor_terms(timeline, edit("split", 1, offset=10)) == "split V1 clip 2 'B2997' at 00:00:04:10, 10 frames in (+12 frames at the clip's 29.97 fps)"
    assert "at the clip's" not in editor_terms(timeline, edit("trim_in", 0, frames=12))


@pytest.mark.parametrize("frames", [1, 5, 7, -3])
@pytest.mark.parametrize("other", [0, 1], ids=["first-clip-other-rate", "next-clip-other-rate"])
def test_a_roll_at_a_cut_beside_a_clip_of_another_rate_keeps_the_tracks_length(tmp_path, frames, other):
    """The out point landed on the clip's own whole frames while the next clip's in point moved by the timeline's
    frames: a roll changed the track's length and put every later clip off the frame grid. The other-rate clip's
    point lands on its own whole frames, whichever side of the cut it is."""
    from nep_video.edits import apply_edit

    first, second = (clip("A25", 100, 100, 25.0), clip("B", 100, 96)) if other == 0 else (clip("A", 100, 96), clip("B25", 100, 100, 25.0))
    timeline = one_track(first, second, clip("C", 100, 96))
    path = tmp_path / "roll.otio"
    write(timeline, path)
    timeline = read_timeline(path)
    track = tracks_of(apply_edit(timeline, edit("roll", 0, frames=frames)))[0]
    before = tracks_of(timeline)[0]
    assert track.duration().to_seconds() == pytest.approx(before.duration().to_seconds(), abs=1e-9)
    starts = [sum((item.duration().to_seconds() for item in list(each)[:2]), 0.0) for each in (track, before)]
    assert starts[0] == pytest.approx(starts[1], abs=1e-9)  # where C starts
    moved = source_range(items_of(track)[other])
    point = moved.end_time_exclusive() if other == 0 else moved.start_time
    assert point.value == int(point.value)  # a whole frame of the clip's own 25 fps


# -- 6. NDF and DF timecode --------------------------------------------------------------------------

NDF_EDL = """TITLE: NDF 2997
FCM: NON-DROP FRAME

001  TAPE_A   V     C        10:00:00:00 10:01:00:00 01:00:00:00 01:01:00:00
* FROM CLIP NAME: LONG_A
002  TAPE_A   V     C        10:02:00:00 10:02:10:00 01:01:00:00 01:01:10:00
* FROM CLIP NAME: SHOT_B
"""


def test_ndf_2997_edl_is_shown_and_written_non_drop_frame_with_its_fcm_line(tmp_path):
    from nep_video.cli import editor_terms

    path = tmp_path / "ndf.edl"
    path.write_text(NDF_EDL)
    timeline = read_timeline(path, rate=29.97)
    assert " clip 2 'SHOT_B' at 01:01:00:00: +2 frames" in editor_terms(timeline, edit("trim_in", 1, frames=2))  # not 01:01:03;18
    out = tmp_path / "out.edl"
    write_timeline(timeline, out)
    text = out.read_text()
    assert text.splitlines()[:2] == ["TITLE: NDF 2997", "FCM: NON-DROP FRAME"]
    assert "10:01:00:00" in text and ";" not in text
    again = read_timeline(out, rate=29.97)
    assert [source_range(item) for item in items_of(tracks_of(again)[0])] == [source_range(item) for item in items_of(tracks_of(timeline)[0])]
    dropped = tmp_path / "df.edl"
    dropped.write_text(re.sub(r"(\d\d:\d\d:\d\d):(\d\d)", r"\1;\2", NDF_EDL.replace("FCM: NON-DROP FRAME", "FCM: DROP FRAME")))
    assert re.search(r" at 01:00:59;28: ", editor_terms(read_timeline(dropped, rate=29.97), edit("trim_in", 1, frames=2)))  # DF: no 01:01:00;00


def test_fcp_xml_ndf_2997_is_shown_non_drop_frame(tmp_path):
    from nep_video.cli import editor_terms

    path = tmp_path / "ndf.xml"
    write(one_track(clip("A", 1800, 2000, NTSC, available=(0, 100000)), clip("B", 1800, 300, NTSC, available=(0, 100000)),
                    start=RT(107892, NTSC)), path, "fcp_xml")  # the adapter writes <displayformat>NDF</displayformat>
    assert "<displayformat>NDF</displayformat>" in path.read_text()
    assert editor_terms(read_timeline(path), edit("trim_in", 1, frames=2)) == "trim in V1 clip 2 'B' at 01:01:03:02: +2 frames"


# -- 7. diffing long tracks ---------------------------------------------------------------------------


def test_a_few_edits_on_a_long_track_are_diffed_without_comparing_every_pair_of_items(monkeypatch):
    import nep_video.diff as diff

    before = one_track(*[clip(f"C{index}", 50 * index + 10, 40, 25.0, media="long", available=(0, 200000)) for index in range(600)], start=RT(0, 25))
    after = before.deepcopy()
    target = list(after.tracks[0])[400]
    target.source_range = TR(target.source_range.start_time + RT(12, 25), target.source_range.duration - RT(12, 25))
    compared = []
    real = diff._matches
    monkeypatch.setattr(diff, "_matches", lambda old, new: compared.append(1) or real(old, new))
    result = diff.diff_timelines(before, after)
    assert [(action.kind, action.target, action.args) for action in result.actions] == [("trim_in", {"track": 0, "clip": 400}, {"frames": 12})]
    assert result.exact and len(compared) < 100  # the dynamic programming alone compared 600 x 600 pairs
    from nep_video.cli import item_limit_note

    assert item_limit_note(before).startswith("V1 has 600 items; NEP suggests edits on items 1 to 513 of a track only")
    assert item_limit_note(interview(3)) is None


# -- 8. a dissolve an edit takes away is named ----------------------------------------------------------


def test_lift_ripple_delete_move_and_insert_beside_a_dissolve_say_they_remove_it(tmp_path):
    from nep_video.cli import editor_terms

    dissolve = otio.schema.Transition(name="Cross Dissolve", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                                      in_offset=RT(6, 24), out_offset=RT(6, 24))
    path = tmp_path / "dissolve.otio"
    write(one_track(clip("A", 100, 48), clip("B", 300, 48), dissolve, clip("C", 500, 48), clip("D", 700, 48)), path)
    timeline = read_timeline(path)
    removed = ", which removes the 12-frame dissolve 'Cross Dissolve'"
    assert editor_terms(timeline, edit("ripple_delete", 1)) == f"ripple delete V1 clip 2 'B' at 00:00:02:00{removed}"
    assert editor_terms(timeline, edit("delete", 2)).endswith(removed)
    assert editor_terms(timeline, edit("move", 3, to=2)).endswith(removed)
    assert editor_terms(timeline, edit("insert", 2, media=0, **{"in": 0}, frames=24)).endswith(removed)
    assert editor_terms(timeline, edit("ripple_delete", 0)) == "ripple delete V1 clip 1 'A' at 00:00:00:00"


# -- 10. markers ---------------------------------------------------------------------------------------


def test_an_insert_after_the_last_clip_is_marked_at_the_end_of_the_track(tmp_path):
    from nep_video.cli import add_markers

    path = tmp_path / "cut.otio"
    write(interview(3), path)
    timeline = read_timeline(path)
    insert = edit("insert", 3, media=0, **{"in": 0}, frames=24)
    marked = add_markers(timeline, Prediction([Suggestion(insert, 0.5)], 0.1))
    (marker,) = tracks_of(marked)[0].markers
    assert marker.marked_range.start_time.to_frames() == 3 * 96 - 1  # the track's last frame, not its first
    assert "after its last clip" in marker.name


# -- 11. the synthetic collector's from= and rate= -------------------------------------------------------


def test_synthetic_from_a_folder_with_nothing_usable_says_why_and_a_bad_rate_is_refused_first(tmp_path):
    from nep_video.collectors.synthetic import SyntheticCutCollector

    folder = tmp_path / "cuts"
    folder.mkdir()
    write(otio.schema.Timeline(name="empty"), folder / "a_empty.otio")
    gaps = one_track(otio.schema.Gap(source_range=TR(RT(0, 24), RT(48, 24))))
    write(gaps, folder / "b_gaps.otio")
    with pytest.raises(NepError) as error:
        list(SyntheticCutCollector().collect(f"2?from={folder}", CollectReport()))
    assert str(error.value) == (f"synthetic: option 'from': no timeline NEP can edit in {folder}: "
                                f"{folder / 'a_empty.otio'}: tracks: none (timeline 'empty' has no tracks); "
                                f"{folder / 'b_gaps.otio'}: its first track has no clips to edit")
    with pytest.raises(NepError, match=r"^synthetic: option 'rate' must be a frame rate EDL timecode has \(23.976, .*\), or 0 to infer it; got 7$"):
        list(SyntheticCutCollector().collect(f"2?from={tmp_path / 'missing'}&rate=7", CollectReport()))


# -- 12. --top-k is bounded as nep predict bounds it; rates shown as editors write them --------------------


def test_top_k_past_the_cores_limit_is_one_line_and_a_5994_timeline_says_59_94(tmp_path):
    from nep_core.cli.evaluate import MAX_TOP_K

    path = tmp_path / "r5994.otio"
    write(one_track(clip("S0", 100, 96, 60000 / 1001), clip("S1", 500, 96, 60000 / 1001), start=RT(0, 60000 / 1001)), path)
    for command in (["video", "suggest", str(path)], ["video", "watch", str(path), "--max-updates", "1"]):
        result = run_nep(*command, "--model", "repeat-last", "--top-k", str(MAX_TOP_K + 1), timeout=120)
        assert result.returncode == 2 and result.stderr == f"error: --top-k must be between 1 and {MAX_TOP_K}, got {MAX_TOP_K + 1}\n", command
    result = run_nep("video", "suggest", str(path), "--model", "repeat-last", timeout=120)
    assert result.returncode == 0 and result.stdout.startswith(f"{path}: 1 track, 2 items, 59.94 fps;"), result.stdout + result.stderr


# -- messages that showed NEP's (or OTIO's) internals -------------------------------------------------------


def test_fcp_xml_of_a_clip_without_a_media_range_is_refused_in_words(tmp_path):
    path = tmp_path / "nr.otio"
    write(one_track(clip("A", 10, 48), clip("GFX", 10, 48, available=None)), path)
    timeline = read_timeline(path)
    with pytest.raises(NepError) as error:
        write_timeline(timeline, tmp_path / "out.xml")
    assert str(error.value) == (f"{tmp_path / 'out.xml'}: cannot write as fcp_xml: clip 'GFX' (track 0 'V1') has no media range "
                                "(available_range), which FCP 7 XML needs for each clip's file; write .otio or .edl instead")
    assert not (tmp_path / "out.xml").exists()


def test_a_snapshot_stack_of_the_wrong_type_is_named_by_its_schema_name():
    from nep_video.snapshot import timeline_from_state

    state = {"timeline": {"name": "x", "rate": 24, "tracks": [{"name": "V1", "kind": "Video", "items": [
        {"stack": {"OTIO_SCHEMA": "Stack.1", "name": "s", "children": {"a": 1}}}]}]}}
    with pytest.raises(NepError) as error:
        timeline_from_state(state)
    assert "opentimelineio" not in str(error.value) and "(of type 'Stack')" in str(error.value)


def test_an_edl_video_track_is_v1(tmp_path):
    from nep_video.cli import editor_terms

    path = tmp_path / "cut.edl"
    path.write_text(NDF_EDL)
    assert editor_terms(read_timeline(path, rate=30), edit("trim_in", 0, frames=2)).startswith("trim in V1 clip 1 'LONG_A'")


# -- docs ------------------------------------------------------------------------------------------------


def test_the_docs_give_runnable_commands_and_say_the_limits():
    text = (REPO / "docs" / "domains" / "video.md").read_text()
    assert "`python bench/bench_video_histories.py" in text and "\n`bench/bench_video_histories.py" not in text
    outs = [line.split("--out ")[1].split()[0] for line in text.splitlines() if line.startswith("nep train --domain video --data")]
    assert len(outs) == 2 and len(set(outs)) == 2, outs
    assert "512" in text and "24 fps" in text and "8 to 240 fps" in text
