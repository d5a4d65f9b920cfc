"""Accepting a suggestion: `nep video suggest --accept N --out OUT`, `nep video watch --accept-to OUT` with
numbers typed on stdin, and the feedback `watch --log` records (accepted, or ignored by the next save)."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import opentimelineio as otio
import pytest

from nep_core.actions import Action
from nep_core.collector import CollectReport
from nep_core.dataset import load_sessions
from nep_core.encoder import context_from_events
from nep_core.errors import NepError
from nep_core.examples import make_examples
from nep_core.inference.predictor import Prediction, Suggestion
from nep_core.plugins import get_domain
from nep_core.server.suggest import checked_prediction
from nep_core.sessionlog import read_session
from nep_video.cli import accepted_edit, check_placed, editor_terms
from nep_video.collectors.editor import EditorLogCollector
from nep_video.collectors.history import version_events
from nep_video.edits import apply_edit
from nep_video.formats import read_timeline
from server_helpers import nep_command
from test_video_cli import DATA, enrich, run_nep, trimmed_versions, without_nep_markers
from video_timelines import interview, write


def test_accept_writes_the_editors_timeline_with_the_printed_suggestion_applied_and_all_else_kept(tmp_path):
    versions = trimmed_versions(tmp_path)
    for path in versions:
        enrich(path)
    *previous, project = versions
    saved = project.read_bytes()
    out, markers = tmp_path / "next.otio", tmp_path / "marked.otio"
    args = ["video", "suggest", str(project), "--model", "repeat-last", "--data", DATA, "--accept", "1", "--out", str(out), "--markers", str(markers)]
    for path in previous:
        args += ["--previous", str(path)]
    result = run_nep(*args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("1. trim in V1 clip 4 'INT_4' at 01:00:10:12: +12 frames")
    assert lines[-2] == f"applied 1. trim in V1 clip 4 'INT_4' at 01:00:10:12: +12 frames; wrote {out}"
    assert lines[-1] == f"import it as a new timeline (Resolve: File > Import > Timeline, or any OTIO tool); {project} is unchanged"
    assert project.read_bytes() == saved
    (marker,) = [marker for clip in otio.adapters.read_from_file(str(markers)).find_clips() for marker in clip.markers if "nep" in marker.metadata]
    action = Action("trim_in", {"track": 0, "clip": 3}, {"frames": 12})
    assert marker.metadata["nep"] == action.to_json()  # the suggestion printed first, as --markers writes it
    accepted = otio.adapters.read_from_file(str(out))
    assert accepted.is_equivalent_to(apply_edit(read_timeline(project), action))
    clip = list(accepted.tracks[0])[3]
    assert clip.source_range.start_time.value == 100 + 200 * 3 + 24 and clip.source_range.duration.value == 96 - 24  # trimmed twice now
    assert accepted.metadata["resolve"] == {"project": "X"} and accepted.global_start_time.value == 86400
    assert [marker.name for marker in list(accepted.tracks[0])[0].markers] == ["editor note"]
    assert not list(accepted.tracks[0])[1].enabled and list(accepted.tracks[0])[0].effects[0].name == "speed"
    assert without_nep_markers(otio.adapters.read_from_file(str(markers))).is_equivalent_to(read_timeline(project))  # markers: as read


def test_accept_writes_an_edl_of_an_edl(tmp_path):
    *previous, project = trimmed_versions(tmp_path, suffix=".edl", adapter="cmx_3600")
    out = tmp_path / "next.edl"
    args = ["video", "suggest", str(project), "--model", "repeat-last", "--data", DATA, "--accept", "1", "--out", str(out)]
    for path in previous:
        args += ["--previous", str(path)]
    result = run_nep(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("import it as a new timeline (Resolve: File > Import > Timeline; Premiere: File > Import)")
    before, after = (list(read_timeline(path).tracks[0]) for path in (project, out))
    assert after[3].source_range.start_time == before[3].source_range.start_time + otio.opentime.RationalTime(12, 24)
    assert [clip.source_range for clip in after[:3] + after[4:]] == [clip.source_range for clip in before[:3] + before[4:]]


def test_each_refusal_of_accept_is_one_line_and_writes_nothing(tmp_path):
    *previous, project = trimmed_versions(tmp_path)
    saved = {path: path.read_bytes() for path in [*previous, project]}
    history = [arg for path in previous for arg in ("--previous", str(path))]
    two_tracks = interview(3)
    two_tracks.tracks.append(interview(2).tracks[0].deepcopy())
    write(two_tracks, tmp_path / "two.otio")
    empty = otio.schema.Timeline(name="empty")
    empty.tracks.append(otio.schema.Track(name="V1"))
    write(empty, tmp_path / "empty.otio")
    out, markers = tmp_path / "next.otio", tmp_path / "marked.otio"
    cases = [
        ((str(project), "--accept", "1"), "--accept 1 needs --out FILE: where to write the edited timeline"),
        ((str(project), "--out", str(out)), f"--out {out} needs --accept N: the number of the printed suggestion to apply"),
        ((str(project), *history, "--accept", "2", "--out", str(out), "--markers", str(markers)),
         "there is no suggestion 2: 1 suggestion printed; nothing written"),
        ((str(tmp_path / "empty.otio"), "--accept", "1", "--out", str(out)), "no suggestion to accept: the best is no edit (p="),
        ((str(project), "--accept", "4", "--out", str(out)), "--accept 4: at most --top-k 3 suggestions are printed"),
        ((str(project), *history, "--accept", "1", "--out", str(project)),
         f"--out {project} is a timeline being read; write the edited timeline to another file"),
        ((str(project), *history, "--accept", "1", "--out", str(previous[0])), f"--out {previous[0]} is a timeline being read"),
        ((str(project), "--accept", "1", "--out", str(tmp_path / "next.kdenlive")),
         "NEP writes edited timelines to .otio, .otioz, .edl or .xml files, not '.kdenlive'"),
        ((str(project), "--accept", "1", "--out", str(out), "--markers", str(out)), f"--out {out} is also the --markers file; give each its own"),
        ((str(tmp_path / "two.otio"), "--accept", "1", "--out", str(tmp_path / "next.edl")),
         f"--out {tmp_path / 'next.edl'}: cannot write this timeline as cmx_3600: NotSupportedError"),
    ]
    for args, message in cases:
        result = run_nep("video", "suggest", *args, "--model", "repeat-last", "--data", DATA, timeout=60)
        assert result.returncode == 2 and "Traceback" not in result.stderr, (args, result.stderr)
        assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert not out.exists() and not markers.exists() and not (tmp_path / "next.edl").exists(), args
    assert all(path.read_bytes() == data for path, data in saved.items())


def test_an_edit_that_does_not_apply_or_leaves_the_timeline_inconsistent_is_refused_in_one_line(tmp_path):
    """What `--accept` takes already passed the domain's verifier (`checked_prediction`, as `nep
    serve`): it drops a suggestion the verifier refuses. `accepted_edit` checks the editor's timeline
    again: an edit that does not apply there, or adds a problem, is refused."""
    timeline = interview(3)
    gap = otio.schema.Gap(source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(24, 24)))
    timeline.tracks[0].insert(1, gap)
    emptied = Action("trim_in", {"track": 0, "clip": 0}, {"frames": 96})  # a clip of no length
    on_a_gap = Action("trim_in", {"track": 0, "clip": 1}, {"frames": 2})
    context = context_from_events(version_events([(tmp_path / "cut.otio", timeline)], 3.0, 5.0, CollectReport()), "s")
    raw = Prediction([Suggestion(emptied, 0.5), Suggestion(on_a_gap, 0.3)], 0.2)
    checked, dropped = checked_prediction(get_domain("video"), context, raw, 3)
    assert checked.suggestions == [] and dropped == 2
    out = tmp_path / "next.otio"
    with pytest.raises(NepError) as refused:
        accepted_edit(timeline, raw, 1, out, "--out")
    assert str(refused.value).startswith("suggestion 1 (trim in V1 clip 1 'INT_1' at 00:00:00:00: +96 frames) would leave the timeline inconsistent: "
                                         "V1 clip 1 'INT_1': ")
    with pytest.raises(NepError, match=r"^suggestion 2 \(trim in V1 gap 2 \(24 frames\) .*\) does not apply to the editor's timeline: "
                                       r"trim_in: target.clip 1 of track 'V1' is a gap, not a clip; nothing written$"):
        accepted_edit(timeline, raw, 2, out, "--out")
    with pytest.raises(NepError, match="the history of --previous versions does not replay to cut.otio as read, so the suggestions cannot be placed"):
        check_placed(False, "--out", out, Path("cut.otio"), "the history of --previous versions")
    assert "\n" not in str(refused.value) and not out.exists()


class Watch:
    """`nep video watch ...` in a subprocess, with its own NEP_HOME; its output lines are read by a
    thread, so a line that never comes fails the test instead of hanging it."""

    def __init__(self, home: Path, *args: str, stdin=subprocess.PIPE):
        self.process = subprocess.Popen([*nep_command(), "video", "watch", *args], stdin=stdin, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env={**os.environ, "NEP_HOME": str(home)})
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def until(self, start: str, timeout: float = 120) -> list[str]:
        """The lines up to the first that starts with ``start``, that one included."""
        got = []
        while True:
            line = self.lines.get(timeout=timeout)
            assert line is not None, f"the watch ended before a line starting {start!r}: {self.seen}"
            got.append(line)
            self.seen.append(line)
            if line.startswith(start):
                return got

    def type(self, text: str) -> None:
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def finish(self) -> str:
        """Its stderr, once it has ended by itself (``--max-updates``)."""
        try:
            _, err = self.process.communicate(timeout=120)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        while (line := self.lines.get(timeout=10)) is not None:
            self.seen.append(line)
        assert self.process.returncode == 0, err
        return err


def save(source: Path, project: Path) -> None:
    """Save ``source`` as ``project`` the way editors do: a new file renamed over the old."""
    shutil.copyfile(source, project.with_suffix(".tmp"))
    os.replace(project.with_suffix(".tmp"), project)


def suggestions_of_save(watch: Watch, number: int) -> list[str]:
    """The numbered suggestion lines printed after save ``number``."""
    watch.until(f"-- save {number}:")
    return [line for line in watch.until("no edit:") if line[:1].isdigit()]


def log_of(home: Path):
    (path,) = (home / "logs" / "video").glob("*.jsonl")
    return read_session(path)


def test_watch_writes_the_typed_suggestion_applied_to_the_latest_save_and_logs_it_accepted(tmp_path):
    """Save 1's best is ignored by save 2; `2` accepts save 2's second suggestion (logged as the one
    accepted); a wrong key or a second accept is one line, also after a save that changes nothing; the
    accepted edit comes into the history once, through save 4's diff of the timeline the editor saved
    with it."""
    versions = trimmed_versions(tmp_path, trimmed=1)
    project, out, home = tmp_path / "project.otio", tmp_path / "next.otio", tmp_path / "home"
    save(versions[0], project)
    watch = Watch(home, str(project), "--model", "ngram", "--data", DATA, "--top-k", "10", "--interval", "0.1", "--max-updates", "4",
                  "--accept-to", str(out), "--log")
    assert watch.until("to accept a suggestion")[-1] == (
        f"to accept a suggestion, type its number and Enter (Enter alone: 1): the save with it applied goes to {out}")
    first = suggestions_of_save(watch, 1)
    save(versions[1], project)
    shown = suggestions_of_save(watch, 2)
    assert len(first) >= 1 and len(shown) >= 2, (first, shown)
    watch.type("two\n")
    assert watch.until("not accepted")[-1] == "not accepted: type a suggestion's number and Enter (Enter alone: 1), not 'two'"
    watch.type(f"{len(shown) + 1}\n")
    assert watch.until("not accepted")[-1] == f"not accepted: there is no suggestion {len(shown) + 1}: {len(shown)} suggestions printed; nothing written"
    assert not out.exists()
    watch.type("2\n")
    applied = watch.until("import it")
    terms = shown[1].split("  (p=")[0].removeprefix("2. ")
    assert applied == [f"applied 2. {terms}; wrote {out}",
                       f"import it as a new timeline (Resolve: File > Import > Timeline, or any OTIO tool); {project} is unchanged"]
    watch.type("\n")
    assert watch.until("not accepted")[-1] == "not accepted: suggestion 2 of save 2 was accepted already; the next save brings new ones"
    save(versions[1], project)  # saved again unchanged: what was shown, and accepted, stays
    suggestions_of_save(watch, 3)
    watch.type("\n")
    assert watch.until("not accepted")[-1] == "not accepted: suggestion 2 of save 2 was accepted already; the next save brings new ones"
    save(out, project)  # the editor imported it and saved
    suggestions_of_save(watch, 4)
    watch.finish()
    events = log_of(home).events
    feedback = [event for event in events if event.feedback is not None]
    assert [(record.feedback["accepted"], record.feedback["outcome"]) for record in feedback] == [(False, "ignored"), (True, "accepted")]
    accepted = Action.from_json(dict(feedback[1].feedback["suggestion"]))
    assert editor_terms(read_timeline(versions[1]), accepted) == terms
    assert otio.adapters.read_from_file(str(out)).is_equivalent_to(apply_edit(read_timeline(versions[1]), accepted))
    edits = [event.action for event in events if event.action is not None and event.action.edit]
    assert len(edits) == 2 and edits[1].kind == accepted.kind and edits[1].target == accepted.target  # once, from save 4's diff
    assert events.index(feedback[0]) < events.index(next(event for event in events if event.action is not None))  # before save 2's edit
    times = [event.t for event in events]
    assert times == sorted(times) and 0 < feedback[1].feedback["shown_at"] <= feedback[1].t


@pytest.fixture(scope="module")
def ignored_watch(tmp_path_factory):
    """A watch with --accept-to and --log whose stdin ends at once, over four saves, none accepted."""
    folder = tmp_path_factory.mktemp("ignored")
    versions = trimmed_versions(folder, trimmed=3)
    project, out, home = folder / "project.otio", folder / "next.otio", folder / "home"
    save(versions[0], project)
    watch = Watch(home, str(project), "--model", "repeat-last", "--data", DATA, "--interval", "0.1", "--max-updates", "4",
                  "--accept-to", str(out), "--log", stdin=subprocess.DEVNULL)
    shown = [suggestions_of_save(watch, 1)]
    watch.until("end of input: suggestions can no longer be accepted here; still watching")
    for number, version in enumerate(versions[1:], 2):
        save(version, project)
        shown.append(suggestions_of_save(watch, number))
    watch.finish()
    return watch.seen, shown, out, home


def test_an_unaccepted_suggestion_is_logged_ignored_at_the_next_save_and_the_end_of_stdin_keeps_watching(ignored_watch):
    seen, shown, out, home = ignored_watch
    assert [line.split(" (")[0] for line in seen if line.startswith("-- save")] == [
        "-- save 1: 0 edits so far", "-- save 2: 1 edit so far", "-- save 3: 2 edits so far", "-- save 4: 3 edits so far"]
    assert shown[0] == [] and all(shown[1:]) and not out.exists()
    events = log_of(home).events
    feedback = [event for event in events if event.feedback is not None]
    assert [record.feedback["outcome"] for record in feedback] == ["ignored", "ignored"]  # saves 2 and 3; save 4's is still shown
    for record, lines in zip(feedback, shown[1:3]):
        assert record.feedback["accepted"] is False and record.feedback["shown_at"] <= record.t
        assert record.feedback["suggestion"] == {"kind": "trim_in", "args": {"frames": 12}, "target": {"track": 0, "clip": int(lines[0].split("clip ")[1].split()[0]) - 1}}
        following = events[events.index(record) + 1]
        assert following.action is not None and following.t == record.t  # logged at the save that passed it over, before its edits


def test_a_watch_log_with_feedback_is_collected_and_made_into_examples(ignored_watch):
    _, _, _, home = ignored_watch
    logs = home / "logs" / "video"
    report = CollectReport()
    (session,) = EditorLogCollector().collect(str(logs), report)
    assert not report.warnings and sum(event.feedback is not None for event in session.events) == 2
    domain = get_domain("video")
    sessions, read = load_sessions(domain, f"editor:{logs}")  # as `nep train --data editor:FOLDER` reads them
    assert not read.warnings and len(sessions) == 1
    examples = make_examples(sessions[0], domain)
    assert [(example.target.kind, example.target.target) for example in examples] == [
        ("trim_in", {"track": 0, "clip": 1}), ("trim_in", {"track": 0, "clip": 2}), ("no_edit", None)]
    assert sum(event.feedback is not None for event in examples[-1].context.history) == 2  # context, never a target


def test_watch_checks_accept_to_before_watching(tmp_path):
    project = trimmed_versions(tmp_path, trimmed=0)[0]
    cases = [(str(project), f"--accept-to {project} is a timeline being read; write the edited timeline to another file"),
             (str(tmp_path / "next.mlt"), "NEP writes edited timelines to .otio, .otioz, .edl or .xml files, not '.mlt'"),
             (str(tmp_path), f"--accept-to {tmp_path} is a folder; pass a file name")]
    for out, message in cases:
        result = run_nep("video", "watch", str(project), "--model", "repeat-last", "--data", DATA, "--accept-to", out, timeout=60)
        assert result.returncode == 2 and "Traceback" not in result.stderr and result.stdout == "", (out, result.stderr)
        assert result.stderr.startswith("error:") and message in result.stderr.replace("\n", ""), (out, result.stderr)


BACKGROUND = """
import os, subprocess, sys, time
watch = subprocess.Popen(sys.argv[2:], preexec_fn=lambda: os.setpgid(0, 0))  # a job of its own: in the terminal's background
print("started", watch.pid, flush=True)
while not os.path.exists(sys.argv[1]):  # the test says when to bring it to the foreground, as `fg` does
    time.sleep(0.05)
os.tcsetpgrp(0, watch.pid)
sys.exit(watch.wait())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pseudo-terminal and /proc")
def test_a_watch_in_the_background_of_its_terminal_is_not_stopped_and_reads_keys_once_in_the_foreground(tmp_path):
    """Reading its terminal from the background stopped the whole process (SIGTTIN): no more watching."""
    import pty
    import select

    versions = trimmed_versions(tmp_path, trimmed=2)
    project, out = tmp_path / "project.otio", tmp_path / "next.otio"
    save(versions[0], project)
    pid, terminal = pty.fork()
    if pid == 0:  # the shell: a session with the pseudo-terminal as its controlling terminal
        try:
            os.execv(sys.executable, [sys.executable, "-c", BACKGROUND, str(tmp_path / "fg"), *nep_command(), "video", "watch", str(project),
                                      "--model", "repeat-last",
                                      "--data", DATA, "--interval", "0.1", "--max-updates", "3", "--accept-to", str(out)])
        finally:
            os._exit(127)
    output, watch, status = b"", None, None

    def read_until(text: bytes) -> None:
        nonlocal output
        while text not in output:
            assert select.select([terminal], [], [], 60)[0], output
            output += os.read(terminal, 4096)

    try:
        read_until(b"-- save 1")
        watch = int(output.split(b"started ")[1].split()[0])
        save(versions[1], project)
        read_until(b"-- save 2")
        read_until(b"no edit:")
        os.write(terminal, b"1\n")  # typed while the watch is in the background: it may not read it yet
        read_until(b"1\r\n")
        state = Path(f"/proc/{watch}/stat").read_text().rsplit(")", 1)[1].split()[0]
        assert state != "T" and not out.exists(), state  # not stopped
        (tmp_path / "fg").touch()
        read_until(b"applied 1. trim in V1 clip 1")
        save(versions[2], project)
        read_until(b"-- save 3")
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:  # failed: end the watch and its shell
            for process in (watch, pid):
                with contextlib.suppress(ProcessLookupError, TypeError):  # ended already, or not started
                    os.kill(process, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0 and out.exists()


def test_a_log_that_cannot_be_written_is_one_line_and_the_watch_goes_on(tmp_path, capsys):
    from nep_video.cli import Watcher

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log folder should be")
    watcher = Watcher(tmp_path / "cut.otio", None, get_domain("video"), None, 3, None, None, blocked)
    watcher.write_log()  # raised NotADirectoryError, which ended the watch after an accept
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and said[0].startswith("log not written: ") and "next save" in said[0]


def test_accepting_an_edit_of_an_audio_track_into_an_edl_is_refused_in_one_line(tmp_path):
    """An EDL written by the CMX 3600 adapter holds the video track only: the accepted edit would be lost from it."""
    timeline = interview(3)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    audio.append(otio.schema.Clip(name="INT_1-audio", source_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, 24),
                                                                                         otio.opentime.RationalTime(96, 24))))
    timeline.tracks.append(audio)
    on_audio = Prediction([Suggestion(Action("trim_in", {"track": 1, "clip": 0}, {"frames": 2}), 0.5)], 0.2)
    with pytest.raises(NepError) as refused:
        accepted_edit(timeline, on_audio, 1, tmp_path / "next.edl", "--out")
    assert str(refused.value) == (f"--out {tmp_path / 'next.edl'}: suggestion 1 (trim in A1 clip 1 'INT_1-audio' at 00:00:00:00: +2 frames) "
                                  "edits audio track A1, which an EDL leaves out (the CMX 3600 adapter writes the video track only); "
                                  "write .otio or .xml instead; nothing written")
    accepted_edit(timeline, on_audio, 1, tmp_path / "next.otio", "--out")  # .otio holds it
