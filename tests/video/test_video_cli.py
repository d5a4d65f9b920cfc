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
        (("suggest", str(project), "--rate", "-5"), "--rate must be a frame rate above 0, got -5"),
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
    assert saves == ["-- save 1: 0 edits so far", "-- save 2: 1 edits so far", "-- save 3: 2 edits so far", "-- save 4: 3 edits so far"]
    last = out.split("-- save 4")[1].splitlines()
    assert last[1].startswith("1. trim in V1 clip 3 'INT_3'") and "+12 frames" in last[1]
    assert Image.open(tmp_path / "live.png").size[0] == 1200


def test_a_timecode_at_a_rate_smpte_does_not_know_is_hours_minutes_seconds():
    from nep_video.cli import timecode

    assert timecode(36, 24.0) == "00:00:01:12"
    assert timecode(61, 7.0) == "00:00:08.714285"  # SMPTE timecode has no 7 fps: a time string instead of a crash
