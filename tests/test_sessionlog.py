"""The session log: crash-safe appends, torn lines, bad lines named by file:line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from nep_core.actions import Action
from nep_core.errors import LogFormatError, NepError
from nep_core.session import Event, Session
from nep_core.sessionlog import ReadReport, SessionLogWriter, read_session, read_sessions, write_session

HEADER = {"nep": 1, "domain": "tags", "session": "s1", "created": "2026-11-23T00:00:00Z", "meta": {}}


def test_writer_appends_and_reader_reads_back(tmp_path):
    path = tmp_path / "s1.jsonl"
    with SessionLogWriter(path, HEADER) as writer:
        writer.append(Event(t=0.5, action=Action("open", target="a")))
        writer.append({"t": 1.0, "state": {"depth": 1}})
        writer.append(Event(t=2.0, feedback={"suggestion": {"kind": "close"}, "accepted": True}))
    with SessionLogWriter(path, HEADER) as writer:  # reopening appends; it never rewrites the header
        writer.append(Event(t=3.0, action=Action("scroll", args={"dir": "up"}, edit=False)))
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == HEADER
    assert len(lines) == 5
    session = read_session(path)
    assert session.id == "s1" and session.domain == "tags"
    assert [event.t for event in session.events] == [0.5, 1.0, 2.0, 3.0]
    assert session.events[0].action == Action("open", target="a")
    assert session.events[3].action.edit is False
    assert session.events[1].state == {"depth": 1}


def test_torn_last_line_is_reported_and_skipped(tmp_path):
    path = tmp_path / "torn.jsonl"
    path.write_text(json.dumps(HEADER) + "\n" + '{"t": 1, "action": {"kind": "open", "target": "a"}}\n{"t": 2, "act')
    report = ReadReport()
    session = read_session(path, report=report)
    assert len(session.events) == 1
    assert report.warnings == [f"{path}:3: torn line (an interrupted write) skipped"]


def test_writer_recovers_after_a_torn_line_and_reader_tolerates_it(tmp_path):
    path = tmp_path / "torn.jsonl"
    path.write_text(json.dumps(HEADER) + "\n" + '{"t": 2, "act')
    with SessionLogWriter(path, HEADER) as writer:
        writer.append(Event(t=3.0, action=Action("open", target="b")))
    assert path.read_bytes().startswith(json.dumps(HEADER).encode())  # nothing rewritten
    report = ReadReport()
    session = read_session(path, report=report)
    assert [event.action.target for event in session.events] == ["b"]
    assert "torn line" in report.warnings[0]


def test_a_header_torn_by_a_crash_is_written_anew_so_the_log_stays_readable(tmp_path):
    """The server's feedback writer is the apps' writer: it used to mark the recovery after a torn
    header, and every record appended later was in a log no reader accepts."""
    from nep_core.server.feedback import FeedbackStore

    store = FeedbackStore(tmp_path, "tags")
    store.path("s1").parent.mkdir(parents=True)
    store.path("s1").write_text('{"nep":1,"domain":"ta')
    store.append("s1", [{"t": 1.0, "action": {"kind": "open", "target": "a"}}])
    store.close()
    session = read_session(store.path("s1"))
    assert session.id == "s1" and [event.action.target for event in session.events] == ["a"]


@pytest.mark.parametrize(
    "line, reason",
    [
        ("not json", "not valid JSON"),
        ('{"t": "soon", "action": {"kind": "open"}}', 'field "t" must be a finite number'),
        ('{"t": NaN, "state": {}}', "NaN in the JSON: a session log holds finite numbers only"),
        ('{"t": 1, "state": {"cursor": {"line": NaN}}}', "NaN in the JSON"),  # was copied into every output
        ('{"t": 1, "state": {"zoom": -Infinity}}', "-Infinity in the JSON"),
        ('{"t": 1, "state": {"zoom": 1e999}}', "1e999 in the JSON"),
        pytest.param('{"t": 1' + "0" * 400 + ', "state": {}}', 'field "t" must be a finite number', id="t-beyond-a-float"),
        ('{"t": 1, "action": {"kind": ""}}', "action.kind must be a non-empty string"),
        ('{"t": 1}', 'exactly one of "action", "state" or "feedback"'),
        ('{"t": 1, "action": {"kind": "x", "args": {"v": NaN}}}', "NaN in the JSON"),
        pytest.param("[" * 100000, "JSON nested too deeply", id="nested-too-deeply"),
    ],
)
def test_bad_line_names_file_line_and_reason(tmp_path, line, reason):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(HEADER) + "\n" + '{"t": 0, "action": {"kind": "open"}}\n' + line + "\n" + '{"t": 5, "action": {"kind": "open"}}\n')
    with pytest.raises(LogFormatError) as caught:
        read_session(path)
    assert str(caught.value).startswith(f"{path}:3: ")
    assert reason in str(caught.value)
    report = ReadReport()
    session = read_session(path, strict=False, report=report)
    assert len(session.events) == 2 and report.skipped_lines == 1


def test_a_session_holding_nan_is_not_written_and_long_ids_make_short_file_names(tmp_path):
    from nep_core.errors import NepError
    from nep_core.sessionlog import log_file_name, write_sessions

    bad = Session(id="a", domain="tags", events=[Event(t=0.0, state={"zoom": float("nan")})])
    with pytest.raises(NepError, match="session 'a' .* holds a number that is not finite"):
        write_session(tmp_path / "a.jsonl", bad)
    assert list(tmp_path.iterdir()) == []  # no file, no temporary file
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    assert len(log_file_name(long_a).encode()) <= 200 and log_file_name(long_a) != log_file_name(long_b)
    assert log_file_name("short id") == "short id.jsonl" and log_file_name("猫" * 100) != log_file_name("猫" * 101)
    assert len(log_file_name("猫" * 100).encode()) <= 200
    assert write_sessions(tmp_path, [Session(id=long_a, domain="tags"), Session(id=long_b, domain="tags")]) == 2
    assert sorted(session.id for session in read_sessions(tmp_path, domain="tags")) == [long_a, long_b]


def test_bad_header_and_empty_file(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"nep": 2, "domain": "tags", "session": "x"}\n')
    with pytest.raises(LogFormatError, match=r"h.jsonl:1: bad header: field \"nep\" must be 1"):
        read_session(path)
    path.write_text('{"t": 0, "action": {"kind": "open", "target": "a"}}\n')  # events written without the header
    with pytest.raises(LogFormatError) as raised:
        read_session(path)
    assert str(raised.value) == (f'{path}:1: no header line: the first line must be {{"nep": 1, "domain": ..., "session": ...}} '
                                 "(docs/session-log.md), and this one is an event")
    path.write_text("")
    with pytest.raises(LogFormatError, match="empty log"):
        read_session(path)


def test_sessions_of_another_domain_are_refused(tmp_path):
    write_session(tmp_path / "a.jsonl", Session(id="a", domain="blender"))
    with pytest.raises(LogFormatError, match="domain 'blender', expected 'tags'"):
        list(read_sessions(tmp_path, domain="tags"))


def test_write_session_round_trips_atomically(tmp_path):
    session = Session(id="r", domain="tags", events=[Event(t=1.0, action=Action("write", args={"word": "é"}))], meta={"source_id": "repo1"})
    path = write_session(tmp_path / "r.jsonl", session)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    back = read_session(path)
    assert back.events == session.events and back.source == "repo1"


def test_a_killed_writer_loses_at_most_the_record_being_written(tmp_path):
    """kill -9 a process that appends in a loop: every record it reported done is on disk."""
    path = tmp_path / "crash.jsonl"
    script = f"""
import sys
from nep_core.sessionlog import SessionLogWriter
writer = SessionLogWriter({str(path)!r}, {HEADER!r})
i = 0
while True:
    writer.append({{"t": float(i), "action": {{"kind": "write", "args": {{"word": "x" * 500}}}}}})
    print(i, flush=True)
    i += 1
"""
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    acknowledged = -1
    for line in process.stdout:
        acknowledged = int(line)
        if acknowledged >= 200:
            break
    os.kill(process.pid, 9)
    process.wait()
    report = ReadReport()
    session = read_session(path, report=report)
    assert len(session.events) >= acknowledged + 1
    assert [event.t for event in session.events] == [float(i) for i in range(len(session.events))]


def test_two_sessions_with_one_id_are_an_error_not_an_overwrite(tmp_path):
    from nep_core.errors import NepError
    from nep_core.sessionlog import write_sessions

    first = Session(id="same", domain="tags", events=[Event(t=0.0, action=Action("open", target="a"))], meta={"source_id": "x.py"})
    second = Session(id="same", domain="tags", events=[Event(t=0.0, action=Action("open", target="b"))], meta={"source_id": "x.py"})
    with pytest.raises(NepError, match=re.escape("two sessions have the id 'same' or ids that make one file name, same.jsonl: "
                                                  "the first made by a collector (source x.py), the second made by a collector (source x.py); ")):
        write_sessions(tmp_path, [first, second])
    assert read_session(tmp_path / "same.jsonl").events[0].action.target == "a"  # the first is kept as it was


def test_session_files_are_named_so_every_system_can_hold_them(tmp_path):
    from nep_core.sessionlog import write_sessions

    sessions = [Session(id="scripts-chair.py:<module>", domain="tags", events=[]), Session(id="a|b", domain="tags", events=[])]
    assert write_sessions(tmp_path, sessions) == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a_b.jsonl", "scripts-chair.py__module_.jsonl"]
    assert sorted(session.id for session in read_sessions(tmp_path)) == ["a|b", "scripts-chair.py:<module>"]
    with pytest.raises(NepError, match="make one file name, a_b.jsonl"):
        write_sessions(tmp_path / "again", [*sessions, Session(id="a?b", domain="tags", events=[])])
