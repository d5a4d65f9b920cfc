"""`nep video suggest` and `nep video watch` on real files: editor terms, OTIO markers, a PNG, and a file saved by another process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import opentimelineio as otio
from PIL import Image

from server_helpers import nep_command
from video_timelines import interview, write

DATA = "synthetic:12"
"""Sessions the n-gram baseline is fitted on: enough to have seen `@trim_in ... c=+1 f=12` runs."""


def run_nep(*args, timeout=300):
    return subprocess.run([*nep_command(), *args], capture_output=True, text=True, timeout=timeout)


def trimmed_versions(folder: Path, clips: int = 6, trimmed: int = 4, suffix=".otio", adapter=None) -> list[Path]:
    """Versions of an interview cut, each with the head of one more clip tightened by 12 frames."""
    paths = []
    timeline = interview(clips)
    for number in range(trimmed + 1):
        path = folder / f"v{number}{suffix}"
        write(timeline, path, adapter)
        paths.append(path)
        if number < trimmed:
            clip = list(timeline.tracks[0])[number]
            clip.source_range = otio.opentime.TimeRange(clip.source_range.start_time + otio.opentime.RationalTime(12, 24),
                                                        clip.source_range.duration - otio.opentime.RationalTime(12, 24))
    return paths


def test_suggest_prints_editor_terms_and_writes_markers_and_a_png(tmp_path):
    *previous, project = trimmed_versions(tmp_path, suffix=".xml", adapter="fcp_xml")
    args = ["video", "suggest", str(project), "--model", "repeat-last", "--data", DATA, "--markers", str(tmp_path / "next.otio"),
            "--png", str(tmp_path / "next.png")]
    for path in previous:
        args += ["--previous", str(path)]
    result = run_nep(*args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "4 edits of history" in lines[0] and "24 fps" in lines[0]
    assert lines[1].startswith("1. trim in V1 clip 4 'INT_4' at 00:00:10:12: +12 frames")  # repeat-last: the last trim again
    marked = otio.adapters.read_from_file(str(tmp_path / "next.otio"))
    markers = [marker for clip in marked.find_clips() for marker in clip.markers]
    assert len(markers) == 1 and markers[0].name.startswith("NEP 1: trim in V1 clip 4") and markers[0].color == otio.schema.MarkerColor.RED
    assert markers[0].metadata["nep"] == {"kind": "trim_in", "target": {"track": 0, "clip": 3}, "args": {"frames": 12}}
    image = Image.open(tmp_path / "next.png")
    assert image.size[0] == 1200 and (214, 39, 40) in {color for _, color in image.getcolors(1 << 20)}


def test_suggest_on_a_broken_file_is_one_line_without_a_traceback(tmp_path):
    (tmp_path / "cut.edl").write_text("TITLE: x\n001  AX V C 00:00:00:00 junk\n")
    result = run_nep("video", "suggest", str(tmp_path / "cut.edl"), "--model", "repeat-last", "--data", DATA)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{tmp_path / 'cut.edl'}: cannot read as cmx_3600" in result.stderr


def test_an_empty_timeline_gets_no_edit_and_no_suggestion_past_its_end(tmp_path):
    empty = tmp_path / "empty.otio"
    timeline = otio.schema.Timeline(name="empty")
    timeline.tracks.append(otio.schema.Track(name="V1"))
    otio.adapters.write_to_file(timeline, str(empty))
    result = run_nep("video", "suggest", str(empty), "--model", "ngram", "--data", DATA)
    assert result.returncode == 0, result.stderr
    assert "0 items" in result.stdout and "after its last clip" not in result.stdout
    assert not any(line[:2] in ("1.", "2.", "3.") for line in result.stdout.splitlines())
    assert "no edit: p=" in result.stdout


def test_outputs_and_options_are_checked_before_any_work(tmp_path):
    """Each is a one-line error: a folder for --png, markers over the timeline being read, a negative
    rate, a watched file in no folder or of no timeline format; names keep their brackets."""
    project = trimmed_versions(tmp_path)[-1]
    odd = tmp_path / "we[ird]:smile:.otio"
    odd.write_text("{")
    cases = [
        (("suggest", str(project), "--png", str(tmp_path)), f"--png {tmp_path} is a folder; pass a file name"),
        (("suggest", str(project), "--markers", str(project)), "is a timeline being read; write the markers to another file"),
        (("suggest", str(project), "--rate", "-5"), "--rate must be a frame rate EDL timecode has (23.976, 24, 25, 29.97, 30, 47.952, 48, 50, 59.94, 60); got -5"),
        (("suggest", str(project), "--rate", "inf"), "--rate must be a frame rate EDL timecode has"),
        (("suggest", str(project), "--rate", "3"), "--rate must be a frame rate EDL timecode has"),
        (("suggest", str(project), "--markers", str(tmp_path / "next.txt")), "NEP writes markers to .otio, .otioz, .edl or .xml files, not '.txt'"),
        (("suggest", str(odd)), f"{odd}: cannot read as otio_json"),
        (("watch", str(tmp_path / "gone" / "cut.otio")), f"no such folder {tmp_path / 'gone'}"),
        (("watch", str(tmp_path)), "unsupported format ''"),
    ]
    for args, message in cases:
        result = run_nep("video", *args, "--model", "repeat-last", "--data", DATA, timeout=60)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (args, result.stderr)
        assert result.stderr.startswith("error:") and message in result.stderr.replace("\n", ""), (args, result.stderr)
    assert not (tmp_path / "gone").exists()


def test_a_model_of_another_domain_is_named_without_an_option_video_lacks(tmp_path):
    project = trimmed_versions(tmp_path)[-1]
    other = tmp_path / "turtle-model"
    other.mkdir()
    (other / "nep.json").write_text('{"nep": 1, "domain": "turtle"}')
    result = run_nep("video", "suggest", str(project), "--model", str(other), timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {other} is a model of the turtle domain; nep video needs a video model (nep train --domain video)"


REWRITER = """
import sys, time, shutil
for source in sys.argv[2:]:
    time.sleep(1.0)
    shutil.copyfile(source, sys.argv[1] + ".tmp")
    import os
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
"""


def test_watch_resuggests_when_another_process_saves_the_file(tmp_path):
    (tmp_path / "versions").mkdir()
    versions = trimmed_versions(tmp_path / "versions", trimmed=3)
    project = tmp_path / "project.otio"  # saved for the first time after the watch starts
    watch = subprocess.Popen([*nep_command(), "video", "watch", str(project), "--model", "repeat-last", "--data", DATA,
                              "--interval", "0.1", "--max-updates", "4", "--png", str(tmp_path / "live.png")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = [watch.stdout.readline()]
        assert seen[0].strip() == f"watching {project} (Ctrl-C stops); it does not exist yet: waiting for the editor to save it", seen
        rewriter = subprocess.run([sys.executable, "-c", REWRITER, str(project), *map(str, versions)], timeout=60)
        assert rewriter.returncode == 0
        out, err = watch.communicate(timeout=120)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, err
    out = "".join(seen) + out
    saves = [line.split(" (")[0] for line in out.splitlines() if line.startswith("-- save")]
    assert saves == ["-- save 1: 0 edits so far", "-- save 2: 1 edit so far", "-- save 3: 2 edits so far", "-- save 4: 3 edits so far"]
    last = out.split("-- save 4")[1].splitlines()
    assert last[1].startswith("1. trim in V1 clip 3 'INT_3'") and "+12 frames" in last[1]
    assert Image.open(tmp_path / "live.png").size[0] == 1200


def test_a_timecode_at_a_rate_smpte_does_not_know_is_hours_minutes_seconds():
    from nep_video.cli import timecode

    assert timecode(36, 24.0) == "00:00:01:12"
    assert timecode(61, 7.0) == "00:00:08.714285"  # SMPTE timecode has no 7 fps: a time string instead of a crash


def enrich(path: Path) -> None:
    """What an editor's timeline holds beyond NEP's snapshot: a start timecode, metadata, the editor's
    markers, a speed effect, a disabled clip, a top-level stack (which is not a track)."""
    timeline = otio.adapters.read_from_file(str(path))
    timeline.global_start_time = otio.opentime.RationalTime(86400, 24)  # 01:00:00:00
    timeline.metadata["resolve"] = {"project": "X"}
    first, second = list(timeline.tracks[0])[:2]
    first.markers.append(otio.schema.Marker(name="editor note", marked_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(110, 24), otio.opentime.RationalTime(1, 24)), color=otio.schema.MarkerColor.GREEN))
    first.effects.append(otio.schema.LinearTimeWarp(name="speed", time_scalar=2.0))
    second.enabled = False
    timeline.tracks.append(otio.schema.Stack(name="compound"))
    otio.adapters.write_to_file(timeline, str(path))


def without_nep_markers(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    for item in [*timeline.find_children(), *timeline.tracks]:
        for marker in list(getattr(item, "markers", [])):
            if "nep" in marker.metadata:
                item.markers.remove(marker)
    return timeline


def test_markers_go_onto_the_editors_timeline_which_is_otherwise_unchanged_and_timecodes_are_the_editors(tmp_path):
    """--markers wrote NEP's rebuilt timeline: 01:00:00:00, metadata, the editor's marker, the effect,
    the disabled clip and the stack were lost; printed timecodes counted from 0."""
    versions = trimmed_versions(tmp_path)
    for path in versions:
        enrich(path)
    *previous, project = versions
    args = ["video", "suggest", str(project), "--model", "repeat-last", "--data", DATA, "--markers", str(tmp_path / "next.otio")]
    for path in previous:
        args += ["--previous", str(path)]
    result = run_nep(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("1. trim in V1 clip 4 'INT_4' at 01:00:10:12: +12 frames")
    marked = otio.adapters.read_from_file(str(tmp_path / "next.otio"))
    names = [marker.name for clip in marked.find_clips() for marker in clip.markers]
    assert names[0] == "editor note" and names[1].startswith("NEP 1: trim in V1 clip 4 'INT_4' at 01:00:10:12: +12 frames (p=") and len(names) == 2
    assert without_nep_markers(marked).is_equivalent_to(otio.adapters.read_from_file(str(project)))


def test_an_edls_record_timecodes_are_kept_when_markers_are_written_to_an_edl(tmp_path):
    (tmp_path / "cut.edl").write_text(
        "TITLE: REEL CUT\n\n"
        "001  A001C003 V     C        10:15:04:10 10:15:08:10 01:00:00:00 01:00:04:00\n* FROM CLIP NAME: A.MOV\n"
        "002  A001C003 V     C        10:15:12:10 10:15:16:10 01:00:04:00 01:00:08:00\n* FROM CLIP NAME: B.MOV\n")
    result = run_nep("video", "suggest", str(tmp_path / "cut.edl"), "--model", "ngram", "--data", DATA, "--markers", str(tmp_path / "next.edl"))
    assert result.returncode == 0, result.stderr
    events = [line.split()[-2:] for line in (tmp_path / "next.edl").read_text().splitlines() if line.startswith("00")]
    assert events == [["01:00:00:00", "01:00:04:00"], ["01:00:04:00", "01:00:08:00"]]
    assert " at 01:00:0" in result.stdout or "no edit: p=" in result.stdout.splitlines()[1]


def test_a_markers_file_the_adapter_cannot_write_is_one_line_before_any_suggestion(tmp_path):
    """The adapters' errors were tracebacks (rc 1) after the suggestions were printed."""
    two_tracks = interview(3)
    two_tracks.tracks.append(interview(2).tracks[0].deepcopy())
    write(two_tracks, tmp_path / "two.otio")
    nested = interview(3)
    nested.tracks[0].append(otio.schema.Stack(name="nested", children=[otio.schema.Track(children=[interview(1).tracks[0][0].deepcopy()])]))
    write(nested, tmp_path / "nested.otio")
    write(interview(2, rate=120.0), tmp_path / "fast.otio")
    cases = [(tmp_path / "two.otio", tmp_path / "next.edl", "cannot write this timeline as cmx_3600: NotSupportedError: Only a single video track"),
             (tmp_path / "nested.otio", tmp_path / "next.xml", "cannot write this timeline as fcp_xml"),
             (tmp_path / "fast.otio", tmp_path / "fast.edl", "cannot write this timeline as cmx_3600: ValueError")]
    for project, out, message in cases:
        result = run_nep("video", "suggest", str(project), "--model", "repeat-last", "--data", DATA, "--markers", str(out), timeout=60)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (project, result.stderr)
        assert result.stderr.startswith(f"error: --markers {out}: {message}") and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stdout == "" and not out.exists()


def test_watch_sees_otiod_saves_and_names_a_save_that_stays_unreadable(tmp_path):
    """A .otiod save was missed (the folder's mtime was watched) and an unreadable save was shown as
    `waiting:` and read again forever."""
    versions = trimmed_versions(tmp_path, trimmed=1)
    project = tmp_path / "project.otiod"
    project.mkdir()  # as OTIO's otiod writer lays it out (it refuses media that is not on disk)
    (project / "content.otio").write_text(versions[0].read_text())
    (tmp_path / "broken.otio").write_text('{"OTIO_SCHEMA": "Timeline.1", "tracks": ')
    watch = subprocess.Popen([*nep_command(), "video", "watch", str(project), "--model", "repeat-last", "--data", DATA,
                              "--interval", "0.1", "--max-updates", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = [watch.stdout.readline(), watch.stdout.readline()]
        assert seen[1].startswith("-- save 1: 0 edits so far"), seen
        content = project / "content.otio"  # saved in place, as OTIO's otiod writer does: the folder's mtime stays
        content.write_text((tmp_path / "broken.otio").read_text())
        unreadable = watch.stdout.readline()  # the next save waits until the watcher has named this one
        while unreadable and not unreadable.startswith(("unreadable:", "waiting:", "--")):  # save 1's suggestions
            unreadable = watch.stdout.readline()
        content.write_text(versions[1].read_text())
        out, err = watch.communicate(timeout=120)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, err
    assert unreadable.startswith(f"unreadable: {project}: cannot read as otiod") and unreadable.rstrip().endswith(
        "; waiting for the next save"), unreadable
    assert not [line for line in out.splitlines() if line.startswith(("unreadable:", "waiting:"))], out
    assert "-- save 2: 1 edit so far" in out


def test_a_gap_is_named_a_gap_and_items_count_from_one_as_the_docs_say():
    """`ripple delete playlist4 clip 2 ''` named a gap as a clip, and the track by its playlist id."""
    from nep_core.actions import Action
    from nep_video.cli import editor_terms
    from nep_video.formats import read_timeline

    timeline = read_timeline(Path(__file__).parent / "files" / "kd25.kdenlive")
    assert editor_terms(timeline, Action("ripple_delete", {"track": 1, "clip": 1})) == "ripple delete Interview gap 2 (25 frames) at 00:00:04:00"
    assert editor_terms(timeline, Action("trim_in", {"track": 1, "clip": 2}, {"frames": 3})).startswith("trim in Interview clip 3 'interview.mp4'")
