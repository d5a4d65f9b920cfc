"""nep_core/appkit: the standard-library modules the app zips (Blender add-on, Krita plugin) ship."""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import math
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from nep_core import appkit

APPKIT = Path(appkit.__file__).resolve().parent


def load(name: str):
    """An appkit module loaded from its file alone, as an app loads it from its zip."""
    spec = importlib.util.spec_from_file_location(f"appkit_test_{name}", APPKIT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_appkit_imports_only_the_standard_library():
    modules = sorted(APPKIT.glob("*.py"))
    assert {path.name for path in appkit.FILES} <= {path.name for path in modules}
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}:{node.lineno}: a relative import; an app ships the file alone"
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names, f"{path}:{node.lineno}: imports {name}, not the standard library"


def test_each_app_zip_carries_the_appkit_files_byte_identical(tmp_path):
    from nep_blender.cli import ADDON_SOURCE, build_addon
    from nep_krita.cli import PLUGIN_NAME, PLUGIN_SOURCE, build_plugin

    for zip_path, folder, prefix in [
        (build_addon(tmp_path / "blender"), ADDON_SOURCE, ""),
        (build_plugin(tmp_path / "krita"), PLUGIN_SOURCE / PLUGIN_NAME, f"{PLUGIN_NAME}/"),
    ]:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
            for path in appkit.FILES:
                assert names.count(prefix + path.name) == 1, (zip_path, path.name)
                assert archive.read(prefix + path.name) == path.read_bytes(), (zip_path, path.name)
                assert not (folder / path.name).exists(), f"{folder / path.name}: a copy of {path}"


def test_session_log_refuses_non_finite_numbers_and_writes_nothing_for_them(tmp_path):
    sessionlog = load("sessionlog")
    log = sessionlog.SessionLog(str(tmp_path / "s.jsonl"), {"nep": 1, "domain": "x", "session": "s"})
    with pytest.raises(ValueError):
        log.append({"t": 0.0, "action": {"kind": "a", "args": {"v": [1.0, math.nan]}}})
    assert not (tmp_path / "s.jsonl").exists()
    log.append({"t": 1.0, "action": {"kind": "a"}})
    log.close()
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"nep": 1, "domain": "x", "session": "s"}, {"t": 1.0, "action": {"kind": "a"}}]
    assert sessionlog.new_session_id("krita").startswith("krita-")


def nested(depth, leaf="x"):
    """``leaf`` inside ``depth`` lists: ``[[...["x"]...]]``."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_a_record_nested_too_deeply_is_a_value_error_and_the_log_goes_on(tmp_path):
    """A suggestion a hostile server nested 900 deep, echoed in a feedback record: the log's finite() recursed and
    raised RecursionError, which an app catching OSError and ValueError (the Krita plugin) let escape into its
    recorder, losing the painter's stroke."""
    sessionlog = load("sessionlog")
    log = sessionlog.SessionLog(str(tmp_path / "s.jsonl"), {"nep": 1, "domain": "x", "session": "s"})
    assert sessionlog.finite(nested(5000, 1.5)) and not sessionlog.finite(nested(5000, math.inf))
    for depth in (sys.getrecursionlimit() + 10, 5000):  # deeper than json.dumps can go
        with pytest.raises(ValueError, match="nested too deeply"):
            log.append({"t": 0.0, "feedback": {"suggestion": {"kind": "brush", "args": {"brush": nested(depth)}}}})
    log.append({"t": 1.0, "action": {"kind": "a"}})
    log.close()
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"nep": 1, "domain": "x", "session": "s"}, {"t": 1.0, "action": {"kind": "a"}}]


def test_suggestions_nested_deeper_than_nep_serve_takes_are_dropped():
    client = load("client")
    answer = {"suggestions": [{"action": {"kind": "brush", "args": {"brush": nested(depth)}}, "probability": 0.1 + depth / 10_000}
                              for depth in (900, client.MAX_ACTION_DEPTH - 1, client.MAX_ACTION_DEPTH - 2)]}
    # the action is level 1 and its args level 2: 30 lists inside them are 32 deep, the most kept
    assert [item["probability"] for item in client.check_suggestions(answer)] == [0.1 + (client.MAX_ACTION_DEPTH - 2) / 10_000]
    assert client.within_depth(nested(3), 3) and not client.within_depth(nested(4), 3) and client.within_depth("x", 0)
    assert client.within_depth(nested(100000), 100000)  # iterative


def test_two_writers_of_one_new_log_write_one_header_and_erase_nothing(tmp_path):
    """The writer that did not make the file used to take it, still empty, for a torn header and cut it
    to nothing, erasing what the other had written and fsynced since (two servers on one data folder)."""
    sessionlog = load("sessionlog")
    header = {"nep": 1, "domain": "x", "session": "s"}
    maker, other = (sessionlog.SessionLog(str(tmp_path / "logs" / "s.jsonl"), header) for _ in range(2))
    maker._open_file()  # made the file; its header is not written yet
    other.append({"t": 1.0, "action": {"kind": "a"}})  # found it empty: writes the header
    maker.append({"t": 2.0, "action": {"kind": "b"}})  # finds the header there now
    other.append({"t": 3.0, "action": {"kind": "c"}})
    for log in (maker, other):
        log.close()
    records = [json.loads(line) for line in (tmp_path / "logs" / "s.jsonl").read_text().splitlines()]
    assert records == [header, {"t": 1.0, "action": {"kind": "a"}}, {"t": 2.0, "action": {"kind": "b"}}, {"t": 3.0, "action": {"kind": "c"}}]


def test_a_call_s_records_are_written_whole_or_not_at_all_in_one_write(tmp_path, monkeypatch):
    """A record that cannot be encoded (a lone surrogate) used to fail after the records before it were written."""
    import os

    sessionlog = load("sessionlog")
    path = tmp_path / "s.jsonl"
    log = sessionlog.SessionLog(str(path), {"nep": 1, "domain": "x", "session": "s"})
    good = {"t": 0.0, "action": {"kind": "a"}}
    for bad in ({"t": 1.0, "action": {"kind": "a", "args": {"word": "\udc00"}}}, {"t": 1.0, "state": {"\ud800": 1}}):
        with pytest.raises(ValueError, match="lone surrogate"):
            log.extend([good, bad])
        assert not path.exists()
    writes, syncs = [], []

    class Recorded:  # os, noting each write and what each fsync was of
        def __getattr__(self, name):
            return getattr(os, name)

        def write(self, fd, data):
            writes.append(bytes(data))
            return os.write(fd, data)

        def fsync(self, fd):
            syncs.append(os.readlink(f"/proc/self/fd/{fd}"))
            os.fsync(fd)

    monkeypatch.setattr(sessionlog, "os", Recorded())
    log.extend([good, good])
    log.extend([good, good, good])
    log.close()
    assert len(writes) == 2 and writes[0].count(b"\n") == 3  # the header and two records at once
    assert syncs == [str(tmp_path), str(path), str(path)]  # the folder once, as the file is made; then each call's write
    assert len(path.read_text().splitlines()) == 6


@pytest.mark.parametrize("content", [
    b"my notes\nabout the session\n",
    b"my notes, no newline",
    b'{"nep": 1, "domain": "other", "session": "s"}\n{"t": 1.0, "action": {"kind": "a"}}\n',
    b'{"nep": 2, "domain": "x", "session": "s"}\n',
    b"\xff\xfe binary\n",
])
def test_a_file_that_is_no_log_of_the_domain_is_never_written_to(tmp_path, content):
    """The writer used to append to any file at its path, and to start a file holding no whole line anew (erasing it)."""
    sessionlog = load("sessionlog")
    path = tmp_path / "s.jsonl"
    path.write_bytes(content)
    log = sessionlog.SessionLog(str(path), {"nep": 1, "domain": "x", "session": "s"})
    with pytest.raises(sessionlog.ForeignFile, match="is not a session log of domain 'x'") as caught:
        log.append({"t": 2.0, "action": {"kind": "a"}})
    assert isinstance(caught.value, ValueError)  # what the apps catch and report
    assert path.read_bytes() == content
    path.write_bytes(b'{"nep": 1, "domain": "x", "session": "s"}\n')
    log.append({"t": 2.0, "action": {"kind": "a"}})  # a log of the domain is appended to
    log.close()
    assert path.read_text().splitlines()[1] == '{"t":2.0,"action":{"kind":"a"}}'


@pytest.mark.parametrize("outside", [b"", b'{"nep":', b'{"nep": 1, "domain": "x", "session": "s"}\n', None],
                         ids=["empty", "torn-header", "log-of-the-domain", "dangling"])
def test_a_symbolic_link_at_the_logs_path_is_never_followed(tmp_path, outside):
    """Found by a review: the writer followed a symlinked log out of its folder, gave an empty file elsewhere
    (or one holding a torn header, cut first) a NEP header and appended the record."""
    sessionlog = load("sessionlog")
    target = tmp_path / "elsewhere" / "notes.txt"
    target.parent.mkdir()
    if outside is not None:
        target.write_bytes(outside)
    path = tmp_path / "logs" / "s.jsonl"
    path.parent.mkdir()
    path.symlink_to(target)
    log = sessionlog.SessionLog(str(path), {"nep": 1, "domain": "x", "session": "s"})
    with pytest.raises(sessionlog.ForeignFile, match=r"is not a session log of domain 'x' \(a symbolic link, which is never followed\)"):
        log.append({"t": 1.0, "action": {"kind": "a"}})
    log.close()
    assert path.is_symlink() and (target.read_bytes() == outside if outside is not None else not target.exists())


def test_a_torn_header_is_started_anew_only_in_a_file_that_is_the_writers_own(tmp_path):
    """A crash's torn header is still written anew; a hard link to a file elsewhere, or a file of another user, never cut."""
    import os

    sessionlog = load("sessionlog")
    header = {"nep": 1, "domain": "x", "session": "s"}
    torn = b'{"nep":1,"domain":"x","ses'
    crashed = tmp_path / "crashed.jsonl"
    crashed.write_bytes(torn)
    log = sessionlog.SessionLog(str(crashed), header)
    log.append({"t": 1.0, "action": {"kind": "a"}})
    log.close()
    assert [json.loads(line) for line in crashed.read_text().splitlines()] == [header, {"t": 1.0, "action": {"kind": "a"}}]
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(torn)
    linked = tmp_path / "linked.jsonl"
    os.link(elsewhere, linked)
    refused = [linked]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # only root can give a file to another user
        foreign = tmp_path / "foreign.jsonl"
        foreign.write_bytes(torn)
        os.chown(foreign, 12345, 12345)
        refused.append(foreign)
    for path in refused:
        log = sessionlog.SessionLog(str(path), header)
        with pytest.raises(sessionlog.ForeignFile, match="a torn header in a file that is not this writer's to start anew"):
            log.append({"t": 1.0, "action": {"kind": "a"}})
        log.close()
        assert path.read_bytes() == torn
    assert elsewhere.read_bytes() == torn


def test_a_fifo_at_the_logs_path_is_refused_without_waiting_for_a_reader(tmp_path):
    """Opening a FIFO for writing waits for a reader: the writer (an app's main thread, a server's) hung there."""
    import os
    import threading

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    sessionlog = load("sessionlog")
    path = tmp_path / "s.jsonl"
    os.mkfifo(path)
    caught = []

    def write():
        log = sessionlog.SessionLog(str(path), {"nep": 1, "domain": "x", "session": "s"})
        try:
            log.append({"t": 1.0, "action": {"kind": "a"}})
        except Exception as error:
            caught.append(error)
        log.close()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(10)
    assert not writer.is_alive(), "the writer waits on the FIFO"
    assert len(caught) == 1 and isinstance(caught[0], sessionlog.ForeignFile) and "(not a regular file)" in str(caught[0])


def test_a_full_disk_loses_only_the_record_being_written_even_in_the_header(tmp_path, monkeypatch):
    """A write that fails part way (ENOSPC) used to leave the file open, and the next record was
    appended to the torn line; a torn header made the whole session unreadable."""
    import errno
    import os

    from nep_core.sessionlog import ReadReport, read_session

    sessionlog = load("sessionlog")
    disk = {"full": True}

    class Disk:  # os, but a full disk writes 10 bytes and then fails
        def __getattr__(self, name):
            return getattr(os, name)

        def write(self, fd, data):
            if disk["full"]:
                os.write(fd, bytes(data[:10]))
                raise OSError(errno.ENOSPC, "No space left on device")
            return os.write(fd, data)

    monkeypatch.setattr(sessionlog, "os", Disk())
    path = tmp_path / "s.jsonl"
    log = sessionlog.SessionLog(str(path), {"nep": 1, "domain": "x", "session": "s", "created": "2026-12-06T00:00:00Z"})
    record = lambda t: {"t": t, "action": {"kind": "a", "args": {"n": t}}}  # noqa: E731
    with pytest.raises(OSError):
        log.append(record(1.0))  # the header is torn
    disk["full"] = False
    log.append(record(2.0))
    disk["full"] = True
    with pytest.raises(OSError):
        log.append(record(3.0))  # a record is torn
    with pytest.raises(OSError):
        log.append(record(4.0))  # and so is the recovery that ends it
    disk["full"] = False
    log.append(record(5.0))
    log.close()
    report = ReadReport()
    session = read_session(path, strict=True, report=report)  # nothing is read as corrupt
    assert [event.t for event in session.events] == [2.0, 5.0]
    assert report.skipped_lines == 2 and all("torn line" in warning for warning in report.warnings)


def test_a_log_moved_deleted_or_torn_by_another_process_while_open_loses_no_record(tmp_path):
    """The open file was written to whatever became of it: after a move the records went into the moved file,
    after a delete into the deleted one; and a line another process tore was checked for only on the first
    write after opening, so the next record was glued to it."""
    from nep_core.sessionlog import ReadReport, read_session

    sessionlog = load("sessionlog")
    path, moved = tmp_path / "s.jsonl", tmp_path / "moved.jsonl"
    header = {"nep": 1, "domain": "x", "session": "s", "created": "2026-12-06T00:00:00Z"}
    log = sessionlog.SessionLog(str(path), header)
    record = lambda t: {"t": t, "action": {"kind": "a"}}  # noqa: E731
    log.append(record(1.0))
    path.rename(moved)
    log.append(record(2.0))
    assert [event.t for event in read_session(moved, strict=False).events] == [1.0]
    assert [event.t for event in read_session(path, strict=False).events] == [2.0]
    path.unlink()
    log.append(record(3.0))
    assert [event.t for event in read_session(path, strict=False).events] == [3.0]
    with open(path, "ab") as other:
        other.write(b'{"t": 3.5, "action": {"ki')  # torn by another process
    log.append(record(4.0))
    with open(path, "ab") as other:
        other.write(b'{"t": 4.5, "action": {"kind": "b"}}\n')  # a whole line of another writer: nothing to recover
    log.append(record(5.0))
    log.close()
    report = ReadReport()
    assert [event.t for event in read_session(path, report=report).events] == [3.0, 4.0, 4.5, 5.0]
    assert report.skipped_lines == 1 and path.read_text().count('"recovered":true') == 1


def test_a_passing_failure_to_look_at_the_logs_path_keeps_writing_to_the_open_file(tmp_path, monkeypatch):
    """Any stat error was taken for a moved log: a network folder's passing EIO closed the good file and
    reopened the path, and a failing reopen lost the record."""
    import errno

    sessionlog = load("sessionlog")
    path = tmp_path / "s.jsonl"
    log = sessionlog.SessionLog(str(path), {"nep": 1, "domain": "x", "session": "s", "created": "2026-12-06T00:00:00Z"})
    log.append({"t": 1.0, "action": {"kind": "a"}})
    real_stat, real_open = sessionlog.os.stat, sessionlog.os.open

    def failing_stat(target, *args, **kwargs):
        if str(target) == str(path):
            raise OSError(errno.EIO, "Input/output error", str(target))
        return real_stat(target, *args, **kwargs)

    def no_reopen(target, *args, **kwargs):
        assert str(target) != str(path), "the open log was reopened"
        return real_open(target, *args, **kwargs)

    monkeypatch.setattr(sessionlog.os, "stat", failing_stat)
    monkeypatch.setattr(sessionlog.os, "open", no_reopen)
    log.append({"t": 2.0, "action": {"kind": "a"}})
    monkeypatch.undo()
    log.close()
    assert path.read_text().count('"kind":"a"') == 2


def test_feedback_job_sends_unsent_events_and_resends_after_an_outage():
    feedback = load("feedback")
    events = [{"t": float(i), "action": {"kind": f"k{i}"}} for i in range(5)]
    suggestion = {"action": {"kind": "k9", "args": {"a": 1}, "extra": 1}, "shown_at": 2.5, "request_id": "r1"}
    record = feedback.feedback_record(suggestion, False, "refused", "bad\nsecond line", now=9.0)
    assert record == {"suggestion": {"kind": "k9", "args": {"a": 1}}, "shown_at": 2.5, "accepted": False, "outcome": "refused",
                      "reason": "bad", "request_id": "r1"}
    assert feedback.feedback_record({"action": "odd"}, True, "accepted", now=9.0) == {"suggestion": {}, "shown_at": 9.0, "accepted": True, "outcome": "accepted"}
    job, sent_upto = feedback.feedback_job("s", 7, events, 1, 4.0, record, actual=3)
    assert sent_upto == 4 and job["kind"] == "feedback" and job["generation"] == ("s", 7) and job["start"] == 1
    assert job["payload"]["history"] == events[1:3] and job["payload"]["actual"] == {"kind": "k3"} and job["payload"]["outcome"] == "refused"
    job, sent_upto = feedback.feedback_job("s", 7, events, 0, 4.0, record, most=2)
    assert (job["start"], sent_upto, "actual" in job["payload"]) == (3, 5, False)
    failed = SimpleNamespace(reachable=False, generation=("s", 7), job={"start": 1})
    assert feedback.resend_from(failed, "s", 4) == 1
    assert feedback.resend_from(failed, "other session", 4) == 4
    assert feedback.resend_from(SimpleNamespace(reachable=True, generation=("s", 7), job={"start": 1}), "s", 4) == 4


def test_the_feedback_mixin_logs_sends_and_takes_results():
    feedback = load("feedback")

    class Client:
        def __init__(self):
            self.jobs = []

        def submit(self, job):
            self.jobs.append(job)

    class Runtime(feedback.FeedbackMixin):
        def __init__(self):
            self.client, self.session_id, self.generation, self.sent_upto, self.feedback_sent, self.outcome = Client(), "s", 2, 0, 0, ""
            self.events = [{"t": 0.0, "action": {"kind": "a"}}, {"t": 1.0, "action": {"kind": "b"}}]
            self.log = []

        def now(self):
            return 5.0

        def write(self, record):
            self.log.append(record)

    runtime = Runtime()
    suggestion = {"action": {"kind": "c"}, "shown_at": 1.5}
    runtime.write_feedback(2.0, suggestion, False, "dismissed")
    runtime.send_feedback(2.0, suggestion, False, "dismissed")
    assert runtime.log == [{"t": 2.0, "feedback": {"suggestion": {"kind": "c"}, "shown_at": 1.5, "accepted": False, "outcome": "dismissed"}}]
    (job,) = runtime.client.jobs
    assert job["payload"]["history"] == runtime.events and runtime.sent_upto == 2
    assert runtime.feedback_result(SimpleNamespace(ok=True)) is False and runtime.feedback_sent == 1
    failed = SimpleNamespace(ok=False, reachable=False, generation=("s", 2), job=job, error="connection refused")
    assert runtime.feedback_result(failed) is True
    assert (runtime.sent_upto, runtime.outcome) == (0, "Feedback not sent: connection refused")
    runtime.client = None
    runtime.send_feedback(3.0, suggestion, True, "accepted")  # no client yet: nothing sent, nothing raised


STALE_CONNECTION_SCRIPT = r"""
import signal, socket, sys, threading, time
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as an app that embeds Python (Krita) leaves it

import importlib.util
spec = importlib.util.spec_from_file_location("client", sys.argv[1])
client = importlib.util.module_from_spec(spec)
spec.loader.exec_module(client)

listener = socket.create_server(("127.0.0.1", 0))

def serve():  # answers each connection's first request, keeps it alive, then closes it (a server's idle timeout)
    while True:
        connection, _ = listener.accept()
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < int(data.split(b"Content-Length: ")[1].split(b"\r\n")[0]):
            data += connection.recv(65536)
        body = b'{"suggestions": []}'
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        time.sleep(0.1)
        connection.close()

threading.Thread(target=serve, daemon=True).start()
worker = client.ServerClient(f"http://127.0.0.1:{listener.getsockname()[1]}")
for _ in range(3):
    worker.submit({"kind": "feedback", "payload": {"events": [{"t": 0, "feedback": {"outcome": "accepted"}}] * 50}})
    results = []
    deadline = time.monotonic() + 10
    while not results and time.monotonic() < deadline:
        results = worker.results()
        time.sleep(0.01)
    assert results and results[0].ok, [result.error for result in results]
    time.sleep(0.5)  # the server has closed the kept-alive connection by now
print("all answered")
"""


def test_a_connection_the_server_closed_does_not_kill_an_app_that_embeds_python(tmp_path):
    """In a process where SIGPIPE still ends the process (Krita leaves it so), writing a request to a
    kept-alive connection the server has closed must not kill the app: the client reconnects."""
    import subprocess

    script = tmp_path / "stale.py"
    script.write_text(STALE_CONNECTION_SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(APPKIT / "client.py")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip() == "all answered"


def test_suggestions_holding_a_number_no_log_can_record_are_dropped():
    """JSON reads 1e999 as infinity: Accept would run the action and the log would refuse to record it."""
    client = load("client")
    answer = json.loads('{"suggestions": ['
                        '{"action": {"kind": "layer.new", "args": {"name": "x", "junk": 1e999}}, "probability": 0.9},'
                        '{"action": {"kind": "stroke", "args": {"points": [[1, 2, NaN, 0], [3, 4, 1, 0]]}}, "probability": 0.8},'
                        '{"action": {"kind": "undo", "args": {"deep": [[{"v": -Infinity}]]}}, "probability": 0.7},'
                        '{"action": {"kind": "undo", "args": {"deep": [[{"v": 1.5}]]}}, "probability": 0.6}]}')
    assert [item["probability"] for item in client.check_suggestions(answer)] == [0.6]
    assert client.all_finite({"a": [1, 2.5, {"b": "inf"}]}) and not client.all_finite([[[math.nan]]])
    deep = current = []
    for _ in range(5000):  # iterative: no recursion limit to hit on a deeply nested answer
        current.append([])
        current = current[0]
    assert client.all_finite(deep)


@contextlib.contextmanager
def canned_server(answers):
    """A loopback HTTP server answering each POST with the next ``(status, body)`` of ``answers``; yields its URL."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            status, body = answers.pop(0)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def submitted(client, job):
    """The result of ``job``, submitted to ``client`` and waited for (10 s at most)."""
    import time

    client.submit(job)
    deadline = time.monotonic() + 10
    while not (done := client.results()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return done[0]


def test_an_answer_nested_too_deeply_is_not_json_and_the_client_goes_on_answering():
    """json.loads raises RecursionError, not ValueError, on deep nesting: it used to end the client's thread."""
    with canned_server([(200, b"[" * 100000), (200, b'{"suggestions": []}')]) as url:
        client = load("client").ServerClient(url)
        try:
            results = [submitted(client, {"kind": "suggest", "payload": {"history": []}}) for _ in range(2)]
        finally:
            client.close()
    assert [(result.ok, result.error) for result in results] == [(False, "the server's answer is not JSON"), (True, "")]
    assert results[1].body == {"suggestions": []}


def test_an_answer_over_the_clients_own_limit_is_an_error_never_decoded_and_the_next_one_is_answered():
    """An app whose answers are small (Krita's: one stroke) sets its own limit: decoding a long answer holds Python's
    lock, so the app's UI thread waited on it even though the worker thread decoded it."""
    long_answer = json.dumps({"suggestions": [], "pad": "x" * 5000}).encode()
    with canned_server([(200, long_answer), (200, b'{"suggestions": []}'), (200, long_answer)]) as url:
        module = load("client")
        client = module.ServerClient(url, max_answer_bytes=4096)
        default = None
        try:
            results = [submitted(client, {"kind": "suggest", "payload": {"history": []}}) for _ in range(2)]
            default = module.ServerClient(url)
            results.append(submitted(default, {"kind": "suggest", "payload": {"history": []}}))
        finally:
            client.close()
            if default is not None:
                default.close()
    assert [(result.ok, result.error) for result in results[:2]] == [(False, "the server's answer is over 4096 bytes"), (True, "")]
    assert results[2].ok and results[2].body["pad"] == "x" * 5000  # the default limit (4 MiB) takes it


def test_a_request_too_deep_for_json_fails_alone_and_the_client_goes_on():
    """A feedback job echoing a suggestion nested deeper than json.dumps can go raised RecursionError on the worker
    thread, which ended it: no request was sent again until the app restarted."""
    with canned_server([(200, b'{"suggestions": []}')]) as url:
        client = load("client").ServerClient(url)
        try:
            deep = {"kind": "feedback", "payload": {"suggestion": nested(sys.getrecursionlimit() + 10)}}
            results = [submitted(client, job) for job in (deep, {"kind": "suggest", "payload": {"history": []}})]
        finally:
            client.close()
    assert not results[0].ok and results[0].error.startswith("the request cannot be written as JSON")
    assert results[1].ok and results[1].body == {"suggestions": []}


def test_an_answer_that_drips_in_past_the_timeout_is_given_up_and_the_next_one_is_answered():
    """Found by a review: the timeout bounded each read, so a byte every 0.3 s held the client, and the
    feedback queued behind it, for as long as the server liked."""
    import http.server
    import threading
    import time

    drips = [True, False]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            slow = drips.pop(0)
            body = b'{"suggestions": []}' + (b" " * 1000 if slow else b"")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not slow:
                self.wfile.write(body)
                return
            for index in range(len(body)):
                try:
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return
                time.sleep(0.3)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = load("client").ServerClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=1.0)
    try:
        results, started = [], time.monotonic()
        for _ in range(2):
            client.submit({"kind": "suggest", "payload": {"history": []}})
            deadline = time.monotonic() + 20
            while not (done := client.results()) and time.monotonic() < deadline:
                time.sleep(0.01)
            results.extend(done)
        assert [(result.ok, result.error) for result in results] == [(False, "the server's answer took longer than 1 s"), (True, "")]
        assert time.monotonic() - started < 6  # about two timeouts, not the 300 s the drip would take
    finally:
        client.close()
        server.shutdown()


@pytest.mark.parametrize("drip", ["status line", "headers"])
def test_a_server_dripping_its_status_line_or_headers_is_given_up_at_the_timeout_and_the_next_one_is_answered(drip):
    """Found by a review: the timeout bounded each read, and the answer's own deadline started after its
    headers, so a byte of them just inside each timeout held the worker (suggestions and feedback) forever."""
    import socketserver
    import threading
    import time

    drips = [True, False]

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            request = b""
            while b"\r\n\r\n" not in request:
                request += self.request.recv(65536)
            head, _, rest = request.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            while len(rest) < length:
                rest += self.request.recv(65536)
            if not drips.pop(0):
                body = b'{"suggestions": []}'
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                return
            endless = b"HTTP/1.1 200 OK\r\n" * 1000 if drip == "status line" else b"HTTP/1.1 200 OK\r\n" + b"X-Drip: b\r\n" * 1000
            for index in range(len(endless)):  # a byte every 0.25 s, inside the 1 s timeout of each read
                try:
                    self.request.sendall(endless[index : index + 1])
                except OSError:  # the client gave up
                    return
                time.sleep(0.25)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = load("client").ServerClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=1.0)
    try:
        started = time.monotonic()
        client.submit({"kind": "suggest", "payload": {"history": []}})
        while not (done := client.results()) and time.monotonic() < started + 10:
            time.sleep(0.01)
        took = time.monotonic() - started
        assert done, "no result in 10 s: the worker is held by the drip"
        slow = done[0]
        assert (slow.ok, slow.error, slow.reachable, slow.cause) == (False, "the server's answer took longer than 1 s", False, "slow")
        assert took < 2.5, took  # the timeout and some slack, not the 1000 bytes' 250 s
        answer = submitted(client, {"kind": "feedback", "payload": {"history": []}})
        assert answer.ok and answer.body == {"suggestions": []} and drips == []
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def test_each_request_is_fitted_under_the_size_budget_from_its_oldest_history_events():
    """Long Krita strokes, or Blender events naming many selected objects: every request still fits nep serve."""
    budget = load("client")

    events = [{"t": float(index), "action": {"kind": "stroke", "args": {"points": [[index, 0, 1.0, 0]] * 400}}} for index in range(64)]
    suggest = {"kind": "suggest", "generation": ("s", 64), "payload": {"session": "s", "history": events, "state": {}, "top_k": 1}}
    fitted = budget.fit(suggest, budget=100_000)
    sent = fitted["payload"]["history"]
    assert budget.encoded_size(fitted["payload"]) <= 100_000 < budget.encoded_size(dict(fitted["payload"], history=events[-len(sent) - 1:]))
    assert sent == events[-len(sent):] and 0 < len(sent) < 64  # the newest events, as many as fit
    assert budget.fit(dict(suggest, payload=dict(suggest["payload"], history=events[-2:])), budget=100_000)["payload"]["history"] == events[-2:]
    feedback = {"kind": "feedback", "generation": ("s", 64), "start": 10,
                "payload": {"session": "s", "history": events[10:], "suggestion": {"kind": "stroke", "args": {"points": [[0, 0]] * 50_000}}}}
    fitted = budget.fit(feedback, budget=100_000)
    assert fitted["start"] == 64 - len(fitted["payload"]["history"])  # the dropped events are not resent
    assert "suggestion" not in fitted["payload"] and budget.encoded_size(fitted["payload"]) <= 100_000
    assert feedback["payload"]["history"] == events[10:] and "suggestion" in feedback["payload"]  # the job queued is a copy
    assert budget.MAX_REQUEST_BYTES <= 1024 * 1024 // 2  # well under what nep serve accepts
    from nep_core.server.app import DEFAULT_MAX_BODY_BYTES

    assert budget.MAX_REQUEST_BYTES < DEFAULT_MAX_BODY_BYTES


def test_feedback_a_shutting_down_server_refused_is_sent_again():
    """A 503 (nep serve shutting down: nothing written) counts as not delivered, so the app resends those events; a 422 does not."""
    feedback = load("feedback")
    refused = b'{"detail": "refused", "errors": []}'
    job, sent_upto = feedback.feedback_job("s", 3, [{"t": 1.0, "action": {"kind": "a"}}] * 3, 0, 2.0, {"accepted": False})
    with canned_server([(503, refused), (422, refused)]) as url:
        client = load("client").ServerClient(url)
        try:
            resent = [feedback.resend_from(submitted(client, job), "s", sent_upto) for _ in range(2)]
        finally:
            client.close()
    assert sent_upto == 3 and resent == [0, 3]  # after the 503 from the first event on; after the 422, not again


def test_a_probability_rounded_just_above_one_is_kept_as_one():
    """Probabilities summed in bfloat16 can reach 1.0000001: the surest suggestion vanished from the apps."""
    client = load("client")
    answer = {"suggestions": [{"action": {"kind": "undo", "args": {}}, "probability": 1.0000001, "confidence": 1.0000001},
                              {"action": {"kind": "undo", "args": {}}, "probability": 1.01}]}
    kept = client.check_suggestions(answer)
    assert [(item["probability"], item["confidence"]) for item in kept] == [(1.0, 1.0)]
