"""The `editor` collector: editor-client logs and `nep serve` feedback logs, with bad edits dropped and named."""

from __future__ import annotations

import json
from pathlib import Path

from app_log_helpers import check_other_domains_empty_logs_and_missing_folders
from nep_core.collector import CollectReport
from nep_core.server.feedback import FeedbackStore, feedback_records
from nep_core.sessionlog import SessionLogWriter
from nep_code.collectors.editor import EditorLogCollector
from nep_code.edits import LineEdit, Workspace

TEXT = "def f(a):\n    return a\n\nprint(f(1))\n"


def edit(line: int, delete: int, insert: str) -> dict:
    return {"kind": "edit", "target": {"file": "app.py", "line": line}, "args": {"delete": delete, "insert": insert}}


def write_editor_log(folder: Path, session_id: str = "s1") -> Path:
    path = folder / f"{session_id}.jsonl"
    with SessionLogWriter(path, {"nep": 1, "domain": "code", "session": session_id, "meta": {"app": "nvim"}}) as log:
        log.append({"t": 0.0, "state": {"files": {"app.py": TEXT}, "cursor": {"file": "app.py", "line": 1, "column": 0}}})
        log.append({"t": 1.0, "action": edit(1, 1, "def f(a, b):\n")})
        log.append({"t": 2.0, "action": edit(2, 1, "    return a + b")})  # line 4: no final newline
        log.append({"t": 3.0, "action": edit(40, 1, "")})  # line 5: outside the file
        log.append({"t": 4.0, "action": {"kind": "edit", "target": {"file": "app.py"}, "args": {}}})  # line 6: no line
        log.append({"t": 5.0, "action": edit(4, 1, "print(f(1, 2))\n")})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
        handle.write(json.dumps({"t": 6.0, "feedback": {"suggestion": edit(2, 1, "    return a + b\n"), "shown_at": 5.5, "accepted": False}}) + "\n")
    return path


def collect(argument: str) -> tuple[list, CollectReport]:
    report = CollectReport()
    return list(EditorLogCollector(None).collect(argument, report)), report


def test_malformed_and_inapplicable_edits_are_dropped_with_file_and_line(tmp_path: Path) -> None:
    path = write_editor_log(tmp_path)
    (session,), report = collect(str(tmp_path))
    assert report.counts["malformed edits (dropped)"] == 2
    assert report.counts["edits that do not apply (dropped)"] == 1
    assert report.counts["bad lines skipped"] == 1
    assert any(w.startswith(f"{path}:4: action.args.insert") for w in report.warnings)
    assert any(w.startswith(f"{path}:5: action.target.line") for w in report.warnings)
    assert any(w.startswith(f"{path}:6: action.target.line must be an integer") for w in report.warnings)
    assert any(w.startswith(f"{path}:8: not valid JSON") for w in report.warnings)
    kinds = [("action" if event.action else "state" if event.state else "feedback") for event in session.events]
    assert kinds == ["state", "action", "action", "feedback"]
    assert Workspace.from_events(session.events).text("app.py") == "def f(a, b):\n    return a\n\nprint(f(1, 2))\n"
    assert session.meta == {"source": "editor", "app": "nvim"}


def test_default_folders_merge_the_servers_feedback_into_the_editors_session(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEP_HOME", str(tmp_path))
    write_editor_log(tmp_path / "logs" / "code")
    store = FeedbackStore(tmp_path / "feedback", "code")
    suggestion = edit(4, 1, "print(f(1, 2))\n")
    store.append("s1", feedback_records(t=4.5, accepted=True, suggestion=suggestion, shown_at=4.2, request_id="r1", actual=suggestion))
    store.append("s2", [{"t": 0.0, "state": {"files": {"app.py": TEXT}}}, {"t": 1.0, "action": edit(1, 0, "import os\n")}])
    store.close()
    sessions, report = collect("")
    by_id = {session.id: session for session in sessions}
    assert set(by_id) == {"s1", "s2"} and report.counts["sessions also in the feedback logs (merged)"] == 1
    merged = by_id["s1"]
    feedback = [event for event in merged.events if event.feedback is not None]
    assert [event.t for event in feedback] == [4.5, 6.0] and feedback[0].feedback["accepted"] is True
    assert [event.t for event in merged.events] == sorted(event.t for event in merged.events)
    assert len([event for event in merged.events if event.action]) == 2
    assert by_id["s2"].meta["source"] == "nep serve"
    assert LineEdit.from_action(by_id["s2"].actions()[0]) == LineEdit("app.py", 1, 0, "import os\n")


def test_other_domains_and_missing_folders(tmp_path: Path, monkeypatch) -> None:
    check_other_domains_empty_logs_and_missing_folders(collect, tmp_path, monkeypatch, "code")


def test_lines_are_numbered_as_the_editor_numbers_them_past_form_feeds_and_lone_carriage_returns(tmp_path: Path) -> None:
    """str.splitlines also cuts at a form feed or a lone \\r, so every later edit replaced the line above its target."""
    text = "import os\n\x0c\ndef f():\n    return 1\n\ndef g():\r\n    return 2\n# a\rb\n"  # 8 lines to Neovim
    path = tmp_path / "ff.jsonl"
    with SessionLogWriter(path, {"nep": 1, "domain": "code", "session": "ff", "meta": {"app": "nvim"}}) as log:
        log.append({"t": 0.0, "state": {"files": {"app.py": text}, "cursor": {"file": "app.py", "line": 4, "column": 0}}})
        log.append({"t": 1.0, "action": edit(4, 1, "    return 10\n")})
        log.append({"t": 2.0, "action": edit(7, 1, "    return 20\n")})
        log.append({"t": 3.0, "action": edit(8, 1, "# a\rc\x0c\n")})  # one line to the editor, as inserted
    (session,), report = collect(str(tmp_path))
    assert report.warnings == []
    workspace = Workspace.from_events(session.events)
    assert workspace.text("app.py") == "import os\n\x0c\ndef f():\n    return 10\n\ndef g():\r\n    return 20\n# a\rc\x0c\n"
    assert LineEdit("app.py", 2, 1, "\x0c\x0c\n").apply(["a\n", "b\n"]) == ["a\n", "\x0c\x0c\n"]


def test_an_edit_to_a_file_the_session_never_snapshotted_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "s1.jsonl"
    with SessionLogWriter(path, {"nep": 1, "domain": "code", "session": "s1", "meta": {}}) as log:
        log.append({"t": 0.0, "state": {"files": {"app.py": TEXT}}})
        log.append({"t": 1.0, "action": {**edit(1, 0, "x = 1\n"), "target": {"file": "other.py", "line": 1}}})
        log.append({"t": 2.0, "action": edit(1, 1, "def f(a, b):\n")})
    (session,), report = collect(str(tmp_path))
    assert report.counts["edits to files the session never snapshotted (dropped)"] == 1
    assert any(w.startswith(f"{path}:3: action.target.file") for w in report.warnings)
    assert [event.action.target["file"] for event in session.events if event.action] == ["app.py"]


def test_files_that_may_hold_secrets_are_left_out_of_an_editors_log(tmp_path: Path) -> None:
    """A log recorded before the client's private_files (or by another client) gave a `.env` to train on."""
    path = tmp_path / "s2.jsonl"
    secret = {"kind": "edit", "target": {"file": "conf/.env", "line": 1}, "args": {"delete": 1, "insert": "TOKEN=new\n"}}
    with SessionLogWriter(path, {"nep": 1, "domain": "code", "session": "s2", "meta": {"app": "nvim"}}) as log:
        log.append({"t": 0.0, "state": {"files": {"app.py": TEXT, "conf/.env": "TOKEN=old\n"},
                                        "cursor": {"file": "conf/.env", "line": 1, "column": 0}}})
        log.append({"t": 1.0, "action": secret})
        log.append({"t": 2.0, "action": edit(1, 1, "def f(a, b):\n")})
    (session,), report = collect(str(tmp_path))
    assert "TOKEN" not in json.dumps([event.state for event in session.events]) + json.dumps([event.action.to_json()
                                                                                              for event in session.events if event.action])
    assert session.events[0].state == {"files": {"app.py": TEXT}}
    assert [event.action.target["file"] for event in session.events if event.action] == ["app.py"]
    assert report.counts["actions on files that may hold secrets (dropped)"] == 1
    assert report.counts["snapshots of files that may hold secrets (left out)"] == 1
