"""nep_core.app_logs: an app's session logs merged with `nep serve` feedback, for any domain's collector."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from app_log_helpers import check_other_domains_empty_logs_and_missing_folders
from nep_core.app_logs import AppLogCollector, app_log_folder, default_folders, located_events
from nep_core.sessionlog import ReadReport, read_session
from nep_core.collector import CollectReport
from nep_core.server.feedback import FeedbackStore, feedback_records
from nep_core.sessionlog import SessionLogWriter

MOVE = {"kind": "move", "args": {"steps": 1}}


class TagsLogCollector(AppLogCollector):
    """A domain's collector: drops moves of more than 5 steps, naming their file:line."""

    name = "tagsapp"
    domain = "tags"
    recorder = "the tags app"
    counted = ("moves", "move")

    def check(self, session, located, report):
        kept = []
        for where, event in located:
            if event.action is not None and event.action.args.get("steps", 0) > 5:
                report.warn(f"{where}: too far; move dropped")
                continue
            kept.append(event)
        return replace(session, events=kept)


def collect(argument: str) -> tuple[list, CollectReport]:
    report = CollectReport()
    return list(TagsLogCollector().collect(argument, report)), report


def write_app_log(folder: Path, session_id: str = "a1") -> Path:
    path = folder / f"{session_id}.jsonl"
    with SessionLogWriter(path, {"nep": 1, "domain": "tags", "session": session_id, "meta": {"app": "tags 1"}}) as log:
        log.append({"t": 0.0, "state": {"at": 0}})                                     # line 2
        log.append({"t": 1.0, "action": MOVE})                                         # line 3
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")                                                    # line 4
        handle.write(json.dumps({"t": 2.0, "action": {"kind": "move", "args": {"steps": 9}}}) + "\n")  # line 5
        handle.write(json.dumps({"t": 3.0, "action": MOVE}) + "\n")                    # line 6
    return path


def test_folders_are_under_nep_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEP_HOME", str(tmp_path))
    assert app_log_folder("tags") == tmp_path / "logs" / "tags"
    assert default_folders("tags") == [tmp_path / "logs" / "tags", tmp_path / "feedback" / "tags"]


def test_event_lines_skip_the_header_bad_lines_and_recovery_markers(tmp_path: Path) -> None:
    path = write_app_log(tmp_path)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"recovered": true}\n\n[1, 2]\n')
        handle.write(json.dumps({"t": 4.0, "action": MOVE}) + "\n")                    # line 10
    read_report = ReadReport()
    read_session(path, strict=False, report=read_report)
    assert read_report.event_lines == [2, 3, 5, 6, 10]


def test_the_subclass_check_drops_with_file_and_line_and_kinds_are_counted(tmp_path: Path) -> None:
    path = write_app_log(tmp_path)
    (session,), report = collect(str(tmp_path))
    assert f"{path}:5: too far; move dropped" in report.warnings
    assert any(w.startswith(f"{path}:4: not valid JSON") for w in report.warnings)
    assert report.counts == {"bad lines skipped": 1, "sessions": 1, "moves": 2}
    assert [event.t for event in session.events] == [0.0, 1.0, 3.0]


def test_default_folders_merge_the_servers_feedback_in_time_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEP_HOME", str(tmp_path))
    write_app_log(tmp_path / "logs" / "tags")
    store = FeedbackStore(tmp_path / "feedback", "tags")
    store.append("a1", feedback_records(t=1.5, accepted=True, suggestion=MOVE, shown_at=1.2, request_id="r1", actual=MOVE))
    store.append("a2", [{"t": 0.0, "state": {"at": 0}}, {"t": 1.0, "action": MOVE}])
    store.close()
    sessions, report = collect("")
    by_id = {session.id: session for session in sessions}
    assert set(by_id) == {"a1", "a2"} and report.counts["sessions also in the feedback logs (merged)"] == 1
    times = [event.t for event in by_id["a1"].events]
    assert times == sorted(times) and any(event.feedback is not None for event in by_id["a1"].events)
    assert len(by_id["a1"].actions()) == 2  # the feedback log's copy of the app's events is not added twice


def test_the_servers_copy_of_an_app_action_is_not_checked_again(tmp_path: Path, monkeypatch) -> None:
    """The feedback log's copy of the user's action was checked as a session of its own before the merge left it out: the
    code domain reported each ignored suggestion's edit as one that does not apply (no file before it in that log)."""
    monkeypatch.setenv("NEP_HOME", str(tmp_path))
    app = write_app_log(tmp_path / "logs" / "tags")
    far = {"kind": "move", "args": {"steps": 9}}  # the app's line 5, which the check drops
    store = FeedbackStore(tmp_path / "feedback", "tags")
    server = store.append("a1", feedback_records(t=2.0, accepted=False, suggestion=MOVE, shown_at=1.2, request_id="r1", actual=far))
    store.close()
    (session,), report = collect("")
    assert [warning for warning in report.warnings if "too far" in warning] == [f"{app}:5: too far; move dropped"], (server, report.warnings)
    assert [event.t for event in session.events if event.action is not None] == [1.0, 3.0]
    assert sum(event.feedback is not None for event in session.events) == 1


def test_a_second_log_of_one_session_in_one_folder_is_reported_not_merged_silently(tmp_path: Path) -> None:
    import shutil

    first = write_app_log(tmp_path)
    (tmp_path / "copies").mkdir()
    second = tmp_path / "copies" / "a1-copy.jsonl"
    shutil.copy(first, second)
    (session,), report = collect(str(tmp_path))
    assert report.counts["logs of a session already read (skipped)"] == 1
    assert f"{second}:1: session 'a1' was read from {first} already; file skipped" in report.warnings
    assert "sessions also in the feedback logs (merged)" not in report.counts
    assert [event.t for event in session.events] == [0.0, 1.0, 3.0]


def test_a_folder_holding_both_the_app_and_the_server_logs_merges_them_whichever_comes_first(tmp_path: Path) -> None:
    """A copy of NEP_HOME passed as FOLDER: feedback/... sorts before logs/..., and the app's log must stay the base."""
    write_app_log(tmp_path / "logs" / "tags")
    store = FeedbackStore(tmp_path / "feedback", "tags")
    store.append("a1", feedback_records(t=1.5, accepted=True, suggestion=MOVE, shown_at=1.2, request_id="r1", actual=MOVE))
    store.close()
    (session,), report = collect(str(tmp_path))
    assert report.counts["sessions also in the feedback logs (merged)"] == 1 and "logs of a session already read (skipped)" not in report.counts
    assert len(session.actions()) == 2 and any(event.feedback is not None for event in session.events)
    assert session.meta.get("source") != "nep serve"


def test_other_domains_empty_logs_and_missing_folders(tmp_path: Path, monkeypatch) -> None:
    check_other_domains_empty_logs_and_missing_folders(collect, tmp_path, monkeypatch, "tags")


def test_located_events_name_each_events_line_or_a_question_mark(tmp_path: Path) -> None:
    from nep_core.sessionlog import read_session

    path = write_app_log(tmp_path)
    read_report = ReadReport()
    session = read_session(path, strict=False, report=read_report)
    longer = replace(session, events=[*session.events, session.events[-1]])
    assert [where for where, _ in located_events(longer, path, read_report.event_lines)] == [f"{path}:{line}" for line in (2, 3, 5, 6)] + [f"{path}:?"]
