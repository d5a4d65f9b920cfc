"""Feedback over real HTTP: durable, DESIGN.md section 5 records in <data_dir>/<domain>/<session>.jsonl."""

from __future__ import annotations

import os
import threading

import httpx
import pytest
from server_helpers import InnermostClose, action_event

from nep_core.server import create_app
from nep_core.server.runner import BackgroundServer
from nep_core.sessionlog import read_session


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
    response = http.post(
        "/v1/feedback",
        json={"session": "doc-3", "accepted": False, "t": 4.0, "actual": {"kind": "write", "args": {"word": "y"}}},
    )
    assert response.status_code == 200
    assert synced == ["doc-3.jsonl"] * 3  # header, feedback, actual action


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
