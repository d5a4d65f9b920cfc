"""Feedback over real HTTP: durable, DESIGN.md section 5 records in <data_dir>/<domain>/<session>.jsonl."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest
from server_helpers import InnermostClose, action_event

from nep_core.appkit import feedback as appkit_feedback
from nep_core.server import create_app
from nep_core.server.feedback import FeedbackStore
from nep_core.server.runner import BackgroundServer
from nep_core.sessionlog import ReadReport, read_session


@pytest.fixture()
def served(tags_domain, tmp_path):
    data_dir = tmp_path / "feedback"
    app = create_app(tags_domain, InnermostClose(), data_dir=data_dir)
    with BackgroundServer(app) as running, httpx.Client(base_url=running.url, timeout=30) as http:
        yield http, data_dir


def test_feedback_is_appended_to_the_session_log(served):
    http, data_dir = served
    suggestion = http.post(
        "/v1/suggest", json={"session": "doc-1", "history": [action_event(0.0, "open", "a")]}
    ).json()
    shown = suggestion["suggestions"][0]["action"]
    response = http.post(
        "/v1/feedback",
        json={
            "session": "doc-1",
            "history": [action_event(0.0, "open", "a"), {"t": 0.5, "state": {"depth": 1}}],
            "suggestion": shown,
            "shown_at": 0.9,
            "accepted": True,
            "t": 1.2,
            "actual": shown,
            "request_id": suggestion["request_id"],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"session": "doc-1", "records": 4, "log": "tags/doc-1.jsonl"}

    session = read_session(data_dir / "tags" / "doc-1.jsonl")
    assert (session.id, session.domain, session.meta) == ("doc-1", "tags", {"source": "nep serve"})
    assert session.created
    assert [event.to_json() for event in session.events] == [
        {"t": 0.0, "action": {"kind": "open", "target": "a"}},
        {"t": 0.5, "state": {"depth": 1}},
        {
            "t": 1.2,
            "feedback": {
                "suggestion": {"kind": "close", "target": "a"},
                "shown_at": 0.9,
                "accepted": True,
                "request_id": suggestion["request_id"],
            },
        },
        {"t": 1.2, "action": {"kind": "close", "target": "a"}},
    ]


def test_later_feedback_appends_and_t_defaults_to_shown_at(served):
    http, data_dir = served
    for accepted, shown_at in ((False, 2.0), (True, 3.5)):
        response = http.post(
            "/v1/feedback",
            json={"session": "doc-2", "suggestion": {"kind": "write", "args": {"word": "x"}}, "shown_at": shown_at, "accepted": accepted},
        )
        assert response.status_code == 200, response.text
    lines = (data_dir / "tags" / "doc-2.jsonl").read_text().splitlines()
    assert len(lines) == 3 and lines[0].startswith('{"nep":1')
    events = read_session(data_dir / "tags" / "doc-2.jsonl").events
    assert [(event.t, event.feedback["accepted"]) for event in events] == [(2.0, False), (3.5, True)]


def test_feedback_is_fsynced_before_the_answer(served, monkeypatch):
    http, data_dir = served
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    body = {"session": "doc-3", "accepted": False, "t": 4.0, "actual": {"kind": "write", "args": {"word": "y"}}}
    assert http.post("/v1/feedback", json=body).status_code == 200
    made = [folder.name for folder in (data_dir, data_dir / "tags")]  # NEP made both: each is fsynced into its parent
    assert synced == [data_dir.parent.name, *made, "doc-3.jsonl"]  # then the folder once the new file is in it; then header, feedback and action at once
    synced.clear()
    assert http.post("/v1/feedback", json=body).status_code == 200
    assert synced == ["doc-3.jsonl"]  # one fsync a request
    assert len((data_dir / "tags" / "doc-3.jsonl").read_text().splitlines()) == 5


@pytest.mark.parametrize(
    "session", ["../escape", "a/b", "..", ".hidden", "", "x" * 129, "with space", "naïve", "a\\b", "-dash"]
)
def test_unsafe_session_ids_are_refused(served, session):
    http, data_dir = served
    response = http.post("/v1/feedback", json={"session": session, "accepted": True, "t": 1.0})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == "session"
    assert not data_dir.exists() or not any(path.is_file() for path in data_dir.parent.rglob("*"))


@pytest.mark.parametrize(
    "body, message",
    [
        ({"session": "s", "accepted": True}, "t: required when neither shown_at nor history is given"),
        ({"session": "s", "accepted": "yes", "t": 1.0}, "accepted: input should be a valid boolean"),
        ({"session": "s", "t": 1.0}, "accepted: field required"),
        ({"session": "s", "accepted": True, "t": 1.0, "suggestion": {"kind": "fly"}}, "suggestion.kind: unknown action kind 'fly'"),
        ({"session": "s", "accepted": True, "t": 1.0, "actual": {"target": "a"}}, "actual.kind: must be a non-empty string"),
        ({"session": "s", "accepted": True, "history": [{"t": 1.0, "action": "open"}]}, "history[0].action: must be an object, got str"),
        ({"session": "s", "accepted": True, "request_id": "r" * 65, "t": 1.0}, "request_id: string should have at most 64 characters"),
        ({"session": "s", "accepted": True, "outcome": "refused", "t": 1.0}, "outcome: outcome 'refused' contradicts accepted=true"),
        ({"session": "s", "accepted": False, "outcome": "maybe", "t": 1.0}, "outcome: input should be 'accepted', 'dismissed', 'refused' or 'ignored'"),
        ({"session": "s", "accepted": True, "t": 1.0, "actual": {"kind": "open", "taget": "a"}},
         "actual.taget: unexpected field (an action has kind, target, args, context, edit)"),
        ({"session": "s", "accepted": True, "t": 1.0, "suggestion": {"kind": "close", "target": "a", "arsg": {}}}, "suggestion.arsg: unexpected field"),
        ({"session": "s", "accepted": True, "history": [action_event(0.0, "open", "a"), {"t": 0.5, "stat": {"depth": 1}, "action": {"kind": "open", "target": "b"}}]},
         "history[1].stat: unexpected field (an event has t, action, state, feedback)"),
        ({"session": "s", "accepted": True, "history": [{"t": 0.5, "action": {"kind": "write", "arsg": {"word": "x"}}}]}, "history[0].action.arsg: unexpected field"),
        ({"session": "s", "accepted": True, "history": [{"t": 0.5, "feedback": {"accepted": True, "sugestion": {"kind": "close"}}}]},
         "history[0].feedback.sugestion: unexpected field (a feedback record has accepted, suggestion, shown_at, request_id, outcome, reason)"),
        ({"session": "s", "accepted": True, "history": [{"t": 0.5, "feedback": {"shown_at": 0.2}}]}, "history[0].feedback.accepted: field required"),
        ({"session": "s", "accepted": True, "history": [{"t": 0.5, "feedback": {"accepted": "no"}}]}, "history[0].feedback.accepted: input should be a valid boolean"),
        ({"session": "s", "accepted": True, "history": [{"t": 0.5, "feedback": {"accepted": True, "outcome": "dismissed"}}]},
         "history[0].feedback.outcome: outcome 'dismissed' contradicts accepted=true"),
        ({"session": "s", "accepted": True, "history": [{"t": 0.5, "feedback": {"accepted": False, "suggestion": {"kind": "fly"}}}]},
         "history[0].feedback.suggestion.kind: unknown action kind 'fly'"),
        ({"session": "s", "accepted": False, "outcome": "refused", "reason": "cannot\nrun it", "t": 1.0}, "reason: must be one line, without a line break"),
        ({"session": "s", "accepted": True, "history": [{"t": 0.5, "feedback": {"accepted": False, "reason": "cannot\r"}}]},
         "history[0].feedback.reason: must be one line, without a line break"),
        ({"session": "s", "accepted": None, "t": 1.0}, "accepted: input should be a valid boolean"),  # null for a required field
    ],
)
def test_bad_feedback_is_refused_and_nothing_is_written(served, body, message):
    http, data_dir = served
    response = http.post("/v1/feedback", json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"]
    assert not (data_dir / "tags" / "s.jsonl").exists()


def test_concurrent_feedback_keeps_every_record_whole(served):
    http, data_dir = served
    url = str(http.base_url)
    failures = []

    def worker(number: int) -> None:
        with httpx.Client(base_url=url) as own:
            for index in range(10):
                response = own.post(
                    "/v1/feedback",
                    json={"session": "busy", "accepted": index % 2 == 0, "t": float(number * 100 + index), "suggestion": {"kind": "open", "target": "c"}},
                )
                if response.status_code != 200:
                    failures.append(response.text)

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    events = read_session(data_dir / "tags" / "busy.jsonl").events
    assert sorted(event.t for event in events) == sorted(float(n * 100 + i) for n in range(8) for i in range(10))


def test_a_log_that_cannot_be_written_is_a_500_that_says_so(tags_domain, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with BackgroundServer(create_app(tags_domain, InnermostClose(), data_dir=blocker)) as running:
        with httpx.Client(base_url=running.url) as http:
            response = http.post("/v1/feedback", json={"session": "s", "accepted": True, "t": 1.0})
            assert response.status_code == 500
            assert response.json()["detail"].startswith("could not write the feedback log")
            assert http.get("/v1/health").status_code == 200


@pytest.mark.parametrize("body, message", [
    ('{"session": "s", "accepted": true, "t": 2, "history": [{"t": 0, "action": {"kind": "open", "target": "a"}}, '
     '{"t": 1, "action": {"kind": "write", "args": {"word": "\\udc00"}}}]}',
     "history[1].action.args.word: must be valid Unicode, without the lone surrogate \\udc00"),
    ('{"session": "s", "accepted": true, "t": 2, "history": [{"t": 0, "action": {"kind": "open", "target": "a"}}], '
     '"actual": {"kind": "write", "args": {"w\\ud800": "x"}}}',
     "actual.args.w\\ud800: field name must be valid Unicode, without the lone surrogate \\ud800"),
    ('{"session": "s", "accepted": false, "t": 2, "outcome": "refused", "reason": "cannot \\ud800", '
     '"history": [{"t": 0, "action": {"kind": "open", "target": "a"}}], "actual": {"kind": "close", "target": "a"}}',
     "reason: must be valid Unicode, without the lone surrogate \\ud800"),
    ('{"session": "s", "accepted": false, "t": 2, "request_id": "r\\ud800", '
     '"history": [{"t": 0, "action": {"kind": "open", "target": "a"}}], "actual": {"kind": "close", "target": "a"}}',
     "request_id: must be valid Unicode, without the lone surrogate \\ud800"),
])
def test_text_no_log_can_hold_is_a_422_and_nothing_of_the_request_is_written(served, body, message):
    """A lone surrogate in a free-form field used to be a 500 after the records before it were written
    and fsynced, so the client's retry wrote them twice."""
    http, data_dir = served
    response = http.post("/v1/feedback", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == message
    assert not (data_dir / "tags" / "s.jsonl").exists()
    fixed = body.replace("\\udc00", "x").replace("\\ud800", "x")
    assert http.post("/v1/feedback", content=fixed, headers={"Content-Type": "application/json"}).status_code == 200
    assert len(read_session(data_dir / "tags" / "s.jsonl").events) == 3  # once


def test_what_the_real_clients_send_is_accepted_and_logged_whole(served):
    """Nested fields are checked strictly now: every field the apps' clients send gets through. The actions of
    Blender's add-on (kind, args, context, edit), Krita's plugin (kind, args) and the Neovim client (kind, target,
    args), sent with appkit's feedback job; then the log's own records, feedback included, as a history."""
    http, data_dir = served
    answer = http.post("/v1/suggest", json={"session": "apps", "history": [action_event(0.0, "open", "a")]}).json()
    events = [
        {"t": 0.0, "state": {"depth": 0}},
        {"t": 0.5, "action": {"kind": "open", "args": {"size": 2.0}, "context": {"mode": "OBJECT", "selected": 1}, "edit": False}},
        {"t": 1.0, "action": {"kind": "write", "args": {"word": "x"}}},
        {"t": 1.5, "action": {"kind": "open", "target": {"file": "a.py", "line": 3}, "args": {"delete": 1, "insert": "x\n"}}},
        {"t": 2.0, "action": {"kind": "close", "target": "a"}},
    ]
    suggestion = {"action": answer["suggestions"][0]["action"], "shown_at": 1.8, "request_id": answer["request_id"]}
    record = appkit_feedback.feedback_record(suggestion, False, "refused", "the app cannot\nrun it", now=2.0)
    job, _ = appkit_feedback.feedback_job("apps", 5, events, 0, 2.0, record, actual=4)
    response = http.post("/v1/feedback", json=job["payload"])
    assert response.status_code == 200, response.text
    logged = [event.to_json() for event in read_session(data_dir / "tags" / "apps.jsonl").events]
    assert logged[:4] == events[:4] and logged[-1] == events[4]
    assert logged[4]["feedback"] == record
    response = http.post("/v1/suggest", json={"session": "apps-log", "history": logged})
    assert response.status_code == 200, response.text


def hold_fsyncs(monkeypatch, ending: str, release: threading.Event, seconds: float) -> threading.Semaphore:
    """A busy disk: the fsync of each log whose name ends with ``ending`` waits for ``release`` (at most
    ``seconds``); the semaphore returned is released as each one starts waiting."""
    started = threading.Semaphore(0)
    real_fsync = os.fsync

    def held(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(ending):
            started.release()
            release.wait(seconds)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", held)
    return started


def test_a_slow_feedback_holds_up_only_its_own_session(served, monkeypatch):
    """One lock used to cover every session's appends: a long feedback (4096 events, a busy disk) held up all others."""
    http, data_dir = served
    release = threading.Event()
    entered = hold_fsyncs(monkeypatch, "slow.jsonl", release, 10)
    answers = []

    def send_slow():
        with httpx.Client(base_url=http.base_url, timeout=30) as own:
            answers.append(own.post("/v1/feedback", json={"session": "slow", "accepted": True, "t": 1.0}))

    slow = threading.Thread(target=send_slow)
    slow.start()
    try:
        assert entered.acquire(timeout=10)
        with httpx.Client(base_url=http.base_url, timeout=5) as other:
            assert other.post("/v1/feedback", json={"session": "quick", "accepted": True, "t": 1.0}).status_code == 200
    finally:
        release.set()
        slow.join(15)
    assert answers[0].status_code == 200


def test_a_burst_of_slow_feedback_never_holds_up_suggestions(served, monkeypatch):
    """Feedback took threads from the pool suggestions run in: 40 slow writes at once (a busy disk) left
    none, and a suggestion waited for the disk."""
    http, data_dir = served
    release = threading.Event()
    waiting = hold_fsyncs(monkeypatch, ".jsonl", release, 30)
    answers = []

    def send(number):
        with httpx.Client(base_url=http.base_url, timeout=60) as own:
            answers.append(own.post("/v1/feedback", json={"session": f"busy-{number}", "accepted": True, "t": 1.0}))

    senders = [threading.Thread(target=send, args=(number,)) for number in range(48)]
    for sender in senders:
        sender.start()
    try:
        assert waiting.acquire(timeout=10)  # the writes have started and wait for the disk
        time.sleep(1.0)  # the rest have arrived
        with httpx.Client(base_url=http.base_url, timeout=5) as other:
            started = time.monotonic()
            answer = other.post("/v1/suggest", json={"session": "doc-9", "history": [action_event(0.0, "open", "a")]})
            assert answer.status_code == 200, answer.text
            assert time.monotonic() - started < 5
    finally:
        release.set()
        for sender in senders:
            sender.join(60)
    assert [answer.status_code for answer in answers] == [200] * 48
    assert len(list((data_dir / "tags").glob("busy-*.jsonl"))) == 48


def test_the_store_keeps_locks_only_while_appending_and_few_logs_open(tmp_path):
    store = FeedbackStore(tmp_path, "tags", max_open=4)
    for index in range(20):
        store.append(f"s{index}", [{"t": 1.0, "action": {"kind": "open", "target": "a"}}])
    assert not store._busy and list(store._writers) == ["s16", "s17", "s18", "s19"]
    store.close()


def test_a_closed_store_refuses_appends_and_never_opens_a_log_again(tmp_path):
    """The server closes its logs at shutdown; an append after that used to open the log again, and leave it open."""
    from nep_core.server.feedback import StoreClosed

    store = FeedbackStore(tmp_path, "tags")
    record = {"t": 1.0, "action": {"kind": "open", "target": "a"}}
    store.append("s", [record])
    store.close()
    with pytest.raises(StoreClosed):
        store.append("s", [record])
    assert len(read_session(store.path("s")).events) == 1


def test_feedback_being_written_at_shutdown_gets_its_real_answer(tags_domain, tmp_path, monkeypatch):
    """A shutdown used to cut requests off after 5 s: the client got uvicorn's plain-text 500 for records
    that were written anyway (and retried them). Now the requests in flight are answered first."""
    data_dir = tmp_path / "feedback"
    entered = hold_fsyncs(monkeypatch, "late.jsonl", threading.Event(), 5.5)  # longer than the 5 s uvicorn was given
    running = BackgroundServer(create_app(tags_domain, InnermostClose(), data_dir=data_dir)).start()
    answers = []

    def send():
        with httpx.Client(base_url=running.url, timeout=30) as http:
            answers.append(http.post("/v1/feedback", json={"session": "late", "accepted": True, "t": 1.0, "history": [action_event(0.5, "open", "a")]}))

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert entered.acquire(timeout=10)
    finally:
        running.stop()
        sender.join(30)
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["records"] == 2
    assert len(read_session(data_dir / "tags" / "late.jsonl").events) == 2


@pytest.mark.parametrize("content", [b"my notes\n", b"my notes, no newline", b'{"nep": 1, "domain": "video", "session": "mine"}\n', None, "link"],
                         ids=["text", "text-no-newline", "other-domain", "folder", "symlink"])
def test_feedback_is_never_appended_to_a_file_that_is_no_log_of_the_domain(served, content, tmp_path):
    """A folder at the log's path was a 500 ("Is a directory") where any other file that is no log is a 409; a
    symbolic link to an empty file outside the data folder was followed, and the file got a header and the record."""
    http, data_dir = served
    path = data_dir / "tags" / "mine.jsonl"
    path.parent.mkdir(parents=True)
    if content is None:
        path.mkdir()
    elif content == "link":
        content = b""
        (tmp_path / "outside.txt").write_bytes(content)
        path.symlink_to(tmp_path / "outside.txt")
    else:
        path.write_bytes(content)
    response = http.post("/v1/feedback", json={"session": "mine", "accepted": True, "t": 1.0})
    assert response.status_code == 409, response.text
    assert response.json()["detail"] == (
        "session: tags/mine.jsonl in the server's data folder is not a session log of domain 'tags': nothing was written; move it away"
    )
    assert path.is_dir() if content is None else path.read_bytes() == content


def test_a_full_disk_is_a_500_and_the_session_s_next_feedback_is_written(served, monkeypatch):
    """A failed write used to deadlock the session's writer (it closed itself, taking the lock its own
    append held): the request never got an answer, and every later feedback of the server hung."""
    import errno

    http, data_dir = served
    assert http.post("/v1/feedback", json={"session": "full", "accepted": True, "t": 1.0}).status_code == 200
    real_write = os.write

    def full_disk(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("full.jsonl"):
            real_write(fd, bytes(data[:5]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    with httpx.Client(base_url=http.base_url, timeout=10) as own:
        response = own.post("/v1/feedback", json={"session": "full", "accepted": False, "t": 2.0})
        assert response.status_code == 500
        assert response.json()["detail"] == "could not write the feedback log (No space left on device)"
        monkeypatch.setattr(os, "write", real_write)
        assert own.post("/v1/feedback", json={"session": "full", "accepted": True, "t": 3.0}).status_code == 200
    report = ReadReport()
    assert [event.t for event in read_session(data_dir / "tags" / "full.jsonl", report=report).events] == [1.0, 3.0]
    assert report.skipped_lines == 1 and "torn line" in report.warnings[0]


def test_a_log_moved_or_deleted_while_the_server_runs_is_made_anew_at_its_path(served):
    """The server keeps a session's log open: after `mv` the next feedback went into the moved file, after
    `rm` into the deleted one, and the answer named the log at the path all the same."""
    http, data_dir = served
    path, moved = data_dir / "tags" / "moving.jsonl", data_dir / "moved.jsonl"

    def send(t):
        response = http.post("/v1/feedback", json={"session": "moving", "accepted": True, "t": t})
        assert response.status_code == 200, response.text
        assert response.json()["log"] == "tags/moving.jsonl"

    send(1.0)
    path.rename(moved)
    send(2.0)
    assert [event.t for event in read_session(moved).events] == [1.0]
    assert read_session(path).id == "moving" and [event.t for event in read_session(path).events] == [2.0]
    path.unlink()
    send(3.0)
    assert read_session(path).id == "moving" and [event.t for event in read_session(path).events] == [3.0]


def test_a_line_another_process_tore_while_the_server_holds_the_log_is_ended_before_the_next_record(served):
    """The tail was checked only on the first write after opening: the next record was glued to the torn line."""
    http, data_dir = served
    path = data_dir / "tags" / "shared.jsonl"
    assert http.post("/v1/feedback", json={"session": "shared", "accepted": True, "t": 1.0}).status_code == 200
    with open(path, "ab") as other:  # another process, killed in the middle of its write
        other.write(b'{"t": 1.5, "action": {"kind": "op')
    assert http.post("/v1/feedback", json={"session": "shared", "accepted": False, "t": 2.0}).status_code == 200
    report = ReadReport()
    assert [event.t for event in read_session(path, report=report).events] == [1.0, 2.0]
    assert report.skipped_lines == 1 and "torn line" in report.warnings[0]
    assert http.post("/v1/feedback", json={"session": "shared", "accepted": True, "t": 3.0}).status_code == 200
    assert path.read_text().count('"recovered":true') == 1  # one marker: the server's own writes need none


def test_an_optional_field_sent_as_null_is_taken_as_left_out(served):
    """`"suggestion": null` was taken as left out and `"history": null` was a 422."""
    http, data_dir = served
    body = {"session": "nulls", "accepted": False, "t": 1.0, "suggestion": None, "shown_at": None, "actual": None,
            "history": None, "request_id": None, "outcome": None, "reason": None}
    response = http.post("/v1/feedback", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["records"] == 1
    assert [event.to_json() for event in read_session(data_dir / "tags" / "nulls.jsonl").events] == [{"t": 1.0, "feedback": {"accepted": False}}]


def test_events_out_of_time_order_are_logged_in_the_order_sent(served):
    """Not refused (a clock that jumped back would lose the user's feedback): the position is the order."""
    http, data_dir = served
    history = [action_event(9.0, "open", "a"), action_event(8.0, "open", "b"), action_event(-1.0, "write", word="x")]
    response = http.post("/v1/feedback", json={"session": "clock", "accepted": True, "history": history})
    assert response.status_code == 200, response.text
    assert [event.to_json() for event in read_session(data_dir / "tags" / "clock.jsonl").events][:3] == history
