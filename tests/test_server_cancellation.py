"""A newer request for a session makes its older waiting request return at once with 409."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from server_helpers import InnermostClose, action_event

from nep_core.server import create_app
from nep_core.server.gate import PredictorGate, Superseded
from nep_core.server.runner import BackgroundServer
from nep_core.session import Context

HISTORY = [action_event(0.0, "open", "a"), action_event(1.0, "open", "b"), action_event(2.0, "write", word="x")]


class HeldWhileHolding(InnermostClose):
    """Innermost-close, except that a request of session "holder" keeps the predictor until released."""

    name = "held"

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()

    def predict(self, context: Context, k: int = 3):
        if context.session_id == "holder":
            self.entered.set()
            assert self.release.wait(60)
        return super().predict(context, k)


def wait_until(condition, what: str, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.005)


def test_a_newer_request_for_the_session_cancels_the_older_waiting_one(tags_domain, tmp_path):
    predictor = HeldWhileHolding()
    app = create_app(tags_domain, predictor, data_dir=tmp_path)
    gate = app.state.service.gate
    answers: dict[str, httpx.Response] = {}

    with BackgroundServer(app) as running:

        def post(name: str, session: str, history: list[dict]) -> threading.Thread:
            def send():
                answers[name] = httpx.post(f"{running.url}/v1/suggest", json={"session": session, "history": history}, timeout=60)

            thread = threading.Thread(target=send)
            thread.start()
            return thread

        holder = post("holder", "holder", HISTORY)
        assert predictor.entered.wait(30)
        older = post("older", "s", HISTORY)
        other = post("other", "t", HISTORY)
        wait_until(lambda: gate.waiting == 2, "two requests waiting for the predictor")
        newer = post("newer", "s", [*HISTORY, action_event(3.0, "write", word="y")])
        older.join(30)
        assert not older.is_alive()
        assert holder.is_alive() and not predictor.release.is_set()  # answered while the predictor was still held
        assert answers["older"].status_code == 409
        body = answers["older"].json()
        assert body["errors"] == [{"loc": "session", "msg": "superseded: a newer request for session 's' arrived while this one waited"}]
        predictor.release.set()
        for thread in (holder, other, newer):
            thread.join(60)
        assert [answers[name].status_code for name in ("holder", "other", "newer")] == [200, 200, 200]
        assert answers["newer"].json()["suggestions"][0]["action"] == {"kind": "close", "target": "b"}
        assert httpx.get(f"{running.url}/v1/health").status_code == 200


def test_the_gate_forgets_sessions_once_their_requests_are_answered():
    gate = PredictorGate()
    first = gate.arrive("s")
    second = gate.arrive("s")
    assert gate.superseded(first) and not gate.superseded(second)
    with pytest.raises(Superseded, match="newer request for session 's'"):
        with gate.request(first):
            pass
    with gate.request(second):
        pass
    gate.leave(first)
    gate.leave(second)
    third = gate.arrive("s")
    assert not gate.superseded(third)
    gate.leave(third)
    assert gate.open_sessions == 0


def test_background_work_waits_for_a_quiet_moment():
    """Not while a request is open, and not until ``quiet`` seconds after the last one was answered."""
    gate = PredictorGate()
    ticket = gate.arrive("s")
    entered: list[float] = []

    def background() -> None:
        with gate.background(quiet=0.2):
            entered.append(time.monotonic())

    worker = threading.Thread(target=background)
    worker.start()
    time.sleep(0.3)
    assert not entered  # the request is still open
    with gate.request(ticket):
        pass
    answered = time.monotonic()
    gate.leave(ticket)
    worker.join(10)
    assert entered and entered[0] - answered >= 0.2 - 0.01
