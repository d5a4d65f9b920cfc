"""Speculation on accept, over real HTTP on loopback with a really trained tiny `tags` model.

The server precomputes the next suggestion as if the shown one were accepted; the session's next
request, whose history ends with exactly that action, is answered from it (``speculative: true``), and
the answer is the one a fresh prediction gives. Anything else is predicted afresh.
"""

from __future__ import annotations

import threading

import httpx
import pytest
from server_helpers import InnermostClose, action_event

from nep_core.actions import Action
from nep_core.inference.factory import load_predictor
from nep_core.server import create_app
from nep_core.server.runner import BackgroundServer
from nep_core.server.speculation import SpeculationSettings, Speculation, SpeculativeCache
from nep_core.server.gate import PredictorGate
from nep_core.session import Context, Event

# a, then b opened; b's body written: the model closes b next, then a.
HISTORY = [
    action_event(0.0, "open", "a"),
    action_event(1.0, "open", "b"),
    action_event(2.0, "write", word="x"),
    action_event(3.0, "write", word="y"),
    action_event(4.0, "write", word="x"),
]
ASSUMED_DELAY = SpeculationSettings().accept_delay


@pytest.fixture(scope="module")
def servers(trained_tags_model, tags_domain, tmp_path_factory):
    """The same checkpoint served twice: with speculation, and without (the fresh predictions)."""
    folder = tmp_path_factory.mktemp("feedback")
    speculating = create_app(tags_domain, load_predictor(str(trained_tags_model), tags_domain), data_dir=folder)
    fresh = create_app(
        tags_domain,
        load_predictor(str(trained_tags_model), tags_domain),
        data_dir=folder,
        speculation=SpeculationSettings(suggestions=0),
    )
    with BackgroundServer(speculating) as left, BackgroundServer(fresh) as right:
        yield left, right


def ask(server, session: str, history: list[dict], top_k: int = 3) -> dict:
    response = httpx.post(f"{server.url}/v1/suggest", json={"session": session, "history": history, "top_k": top_k}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def settle(server) -> None:
    """Wait until the server's queued speculations have run (a human takes longer to accept)."""
    assert server.app.state.service.speculations.wait_idle(timeout=60)


def assert_same_answer(left: dict, right: dict) -> None:
    assert [item["action"] for item in left["suggestions"]] == [item["action"] for item in right["suggestions"]]
    for mine, theirs in zip(left["suggestions"], right["suggestions"]):
        assert mine["probability"] == pytest.approx(theirs["probability"], abs=1e-5)
    assert left["p_no_edit"] == pytest.approx(right["p_no_edit"], abs=1e-5)
    assert (left["best_is_no_edit"], left["dropped"]) == (right["best_is_no_edit"], right["dropped"])


def accepted(body: dict, t: float) -> dict:
    return {"t": t, "action": body["suggestions"][0]["action"]}


@pytest.mark.parametrize("delay", [ASSUMED_DELAY, 1.4], ids=["assumed-time", "other-time-same-pause-bucket"])
def test_the_accepted_path_is_answered_from_the_speculation_as_a_fresh_prediction_would(servers, delay):
    speculating, fresh = servers
    session = f"accept-{delay}"
    first = ask(speculating, session, HISTORY)
    assert first["speculative"] is False and not first["best_is_no_edit"]
    assert first["suggestions"][0]["action"] == {"kind": "close", "target": "b"}
    settle(speculating)
    history = [*HISTORY, accepted(first, 4.0 + delay)]
    second = ask(speculating, session, history)
    assert second["speculative"] is True
    assert_same_answer(second, ask(fresh, session, history))
    assert second["suggestions"][0]["action"] == {"kind": "close", "target": "a"}
    settle(speculating)  # accepts chain: the answer from the cache was speculated on in turn
    third_history = [*history, accepted(second, 4.0 + delay + 0.9)]
    third = ask(speculating, session, third_history)
    assert third["speculative"] is True
    assert_same_answer(third, ask(fresh, session, third_history))


def test_a_finished_speculation_is_answered_on_the_event_loop(servers, monkeypatch):
    """A hit that needs no prediction skips the worker thread; a miss goes to it."""
    speculating, fresh = servers
    service = speculating.app.state.service
    calls = []
    for name in ("ready_answer", "answer"):
        method = getattr(service, name)

        def recording(*args, _method=method, _name=name):
            result = _method(*args)
            calls.append((_name, threading.current_thread().name == "nep-server", result is not None and result.speculative))
            return result

        monkeypatch.setattr(service, name, recording)
    first = ask(speculating, "loop", HISTORY)
    assert calls == [("answer", False, False)]  # nothing speculated yet: predicted on a worker thread
    settle(speculating)
    calls.clear()
    history = [*HISTORY, accepted(first, 4.0 + ASSUMED_DELAY + 0.2)]
    second = ask(speculating, "loop", history)
    assert second["speculative"] is True and calls == [("ready_answer", True, True)]
    assert_same_answer(second, ask(fresh, "loop", history))
    settle(speculating)
    calls.clear()
    late = [*history, accepted(second, 60.0)]  # another pause bucket: the model must see it
    assert ask(speculating, "loop", late)["speculative"] is False
    assert calls == [("ready_answer", True, False), ("answer", False, False)]


def test_an_accepted_action_the_app_logs_with_its_context_still_hits_where_the_prompt_is_the_same(servers, monkeypatch):
    """Blender's add-on logs an accepted call with the mode and selection it ran in: the speculated
    answer holds where the model reads the same prompt, and is predicted afresh where it does not."""
    speculating, fresh = servers
    first = ask(speculating, "with-context", HISTORY)
    settle(speculating)
    logged = {**accepted(first, 4.0 + ASSUMED_DELAY)}
    logged["action"] = {**logged["action"], "context": {"mode": "insert"}}
    history = [*HISTORY, logged]
    second = ask(speculating, "with-context", history)
    assert second["speculative"] is True
    assert_same_answer(second, ask(fresh, "with-context", history))
    # the same with a pause the model sees differently: another prompt, so no hit
    settle(speculating)
    assert ask(speculating, "with-context-late", HISTORY)["suggestions"][0]["action"] == first["suggestions"][0]["action"]
    settle(speculating)
    late = [*HISTORY, {"t": 60.0, "action": {**first["suggestions"][0]["action"], "context": {"mode": "insert"}}}]
    answer = ask(speculating, "with-context-late", late)
    assert answer["speculative"] is False
    assert_same_answer(answer, ask(fresh, "with-context-late", late))
    # a predictor that reads the context: another prompt, so no hit
    settle(speculating)
    predictor = speculating.app.state.service.predictor
    monkeypatch.setattr(predictor, "prompt_key", lambda context: ("reads", dict(context.history[-1].action.context)))
    third_history = [*history, {**accepted(second, 4.0 + ASSUMED_DELAY + 0.9), "action": {**second["suggestions"][0]["action"], "context": {"mode": "x"}}}]
    third = ask(speculating, "with-context", third_history)
    assert third["speculative"] is False
    assert_same_answer(third, ask(fresh, "with-context", third_history))


def test_a_history_that_diverges_is_predicted_afresh(servers):
    speculating, fresh = servers
    first = ask(speculating, "diverge", HISTORY)
    settle(speculating)
    other = [*HISTORY, action_event(5.0, "write", word="y")]  # not the suggested close
    second = ask(speculating, "diverge", other)
    assert second["speculative"] is False
    assert_same_answer(second, ask(fresh, "diverge", other))
    assert first["suggestions"][0]["action"] != {"kind": "write", "args": {"word": "y"}}


def test_a_pause_the_model_sees_differently_is_predicted_afresh(servers):
    """Accepted after 30 s the prompt has another gap token than the speculation assumed: no hit."""
    speculating, fresh = servers
    first = ask(speculating, "slow", HISTORY)
    settle(speculating)
    history = [*HISTORY, accepted(first, 34.0)]
    second = ask(speculating, "slow", history)
    assert second["speculative"] is False
    assert_same_answer(second, ask(fresh, "slow", history))


def test_other_sessions_state_and_top_k_do_not_hit(servers):
    speculating, _ = servers
    first = ask(speculating, "owner", HISTORY)
    settle(speculating)
    history = [*HISTORY, accepted(first, 5.0)]
    assert ask(speculating, "stranger", history)["speculative"] is False
    assert ask(speculating, "owner", history, top_k=2)["speculative"] is False  # it replaced the speculation
    ask(speculating, "owner", HISTORY)
    settle(speculating)
    response = httpx.post(
        f"{speculating.url}/v1/suggest", json={"session": "owner", "history": history, "state": {"zoom": 2}}, timeout=60
    )
    assert response.json()["speculative"] is False


def test_a_dismissal_drops_the_speculation(servers):
    speculating, _ = servers
    first = ask(speculating, "dismiss", HISTORY)
    settle(speculating)
    feedback = httpx.post(
        f"{speculating.url}/v1/feedback",
        json={"session": "dismiss", "suggestion": first["suggestions"][0]["action"], "accepted": False, "t": 4.5},
    )
    assert feedback.status_code == 200, feedback.text
    assert ask(speculating, "dismiss", [*HISTORY, accepted(first, 5.0)])["speculative"] is False


def test_feedback_on_an_earlier_answers_suggestion_keeps_the_newest_answers_speculation(servers):
    """An editor sends `ignored` for the suggestion the user typed over a moment after the next answer came: that
    dropped every speculation of the session, so the next accept was predicted afresh."""
    speculating, _ = servers
    first = ask(speculating, "typed-over", HISTORY)
    settle(speculating)
    older = {"kind": "write", "args": {"word": "z"}}  # the suggestion of an answer before, not one of this answer's
    assert older not in [item["action"] for item in first["suggestions"]]
    feedback = httpx.post(f"{speculating.url}/v1/feedback", json={"session": "typed-over", "suggestion": older, "accepted": False,
                                                                   "outcome": "ignored", "t": 4.2})
    assert feedback.status_code == 200, feedback.text
    assert ask(speculating, "typed-over", [*HISTORY, accepted(first, 5.0)])["speculative"] is True


OPENED = [action_event(0.0, "open", "a")]
WRITTEN = [*OPENED, action_event(1.0, "write", word="x")]  # InnermostClose suggests closing a after both


@pytest.fixture()
def closing(tags_domain, tmp_path):
    """A server of ``InnermostClose``, which needs no training: its answers to OPENED and WRITTEN share their top suggestion."""
    with BackgroundServer(create_app(tags_domain, InnermostClose(), data_dir=tmp_path)) as running:
        yield running


def dismiss(server, session: str, answer: dict, request_id: str | None, t: float) -> httpx.Response:
    body = {"session": session, "suggestion": answer["suggestions"][0]["action"], "accepted": False, "outcome": "ignored", "t": t}
    if request_id is not None:
        body["request_id"] = request_id
    return httpx.post(f"{server.url}/v1/feedback", json=body, timeout=30)


@pytest.mark.parametrize("named", ["earlier", "newest"])
def test_feedback_naming_its_answer_drops_only_that_answers_speculations(closing, named):
    """Feedback on an earlier answer's suggestion dropped the newest answer's speculation when both answers
    showed it: the speculations were matched by action alone, and the request_id sent was not used."""
    first = ask(closing, named, OPENED)
    second = ask(closing, named, WRITTEN)
    assert first["suggestions"][0]["action"] == second["suggestions"][0]["action"] == {"kind": "close", "target": "a"}
    settle(closing)
    feedback = dismiss(closing, named, first, (first if named == "earlier" else second)["request_id"], 1.2)
    assert feedback.status_code == 200, feedback.text
    answer = ask(closing, named, [*WRITTEN, accepted(second, 1.0 + ASSUMED_DELAY)])
    assert answer["speculative"] is (named == "earlier")


def test_feedback_the_server_refuses_leaves_the_speculations_as_they_were(closing, tmp_path):
    """A refused request writes nothing and can be sent again, so it must change nothing: a 409 (or 503, 500)
    used to drop the speculation all the same, before the log was written."""
    first = ask(closing, "refused", OPENED)
    settle(closing)
    (tmp_path / "tags").mkdir()
    (tmp_path / "tags" / "refused.jsonl").write_text("my notes\n")  # no log: a 409
    assert dismiss(closing, "refused", first, first["request_id"], 0.5).status_code == 409
    assert ask(closing, "refused", [*OPENED, accepted(first, ASSUMED_DELAY)])["speculative"] is True


def test_health_counts_speculations_hits_and_misses(servers):
    speculating, _ = servers
    before = httpx.get(f"{speculating.url}/v1/health").json()["speculation"]
    first = ask(speculating, "counted", HISTORY)
    settle(speculating)
    ask(speculating, "counted", [*HISTORY, accepted(first, 5.0)])
    after = httpx.get(f"{speculating.url}/v1/health").json()["speculation"]
    assert after["hits"] == before["hits"] + 1 and after["misses"] == before["misses"] + 1
    assert after["run"] >= before["run"] + 1 and after["queued"] >= before["queued"] + 1


def test_the_cache_keeps_a_bounded_number_of_sessions():
    cache = SpeculativeCache(PredictorGate(), run=lambda speculation: None, max_sessions=2)
    context = Context(history=[Event(0.0, action=Action("open", target="a"))], session_id="s")
    made = {}
    for session in ("s1", "s2", "s3"):
        made[session] = Speculation.after(context, None, 3, Action("close", target="a"), 1.0)
        cache.put(session, [made[session]])
    assert cache.take("s1") == []  # the least recently used session went first
    assert made["s1"].status == "dropped"
    assert cache.take("s3") == [made["s3"]] and made["s3"].status == "pending"
    cache.put("s2", [])
    assert made["s2"].status == "dropped" and cache.take("s2") == []


def test_the_cache_keeps_a_bounded_number_of_history_events():
    cache = SpeculativeCache(PredictorGate(), run=lambda speculation: None, max_sessions=10, max_events=5)
    history = [Event(float(t), action=Action("open", target="a")) for t in range(3)]
    made = [Speculation.after(Context(history=history, session_id=f"s{n}"), None, 3, Action("close", target="a"), 1.0) for n in range(3)]
    cache.put("s0", [made[0]])
    cache.put("s1", [made[1]])  # 6 events held: over 5, the oldest session goes
    assert made[0].status == "dropped" and cache.take("s0") == []
    assert cache.take("s1") == [made[1]]
    cache.put("s2", [made[2]])
    assert cache.take("s2") == [made[2]] and made[2].status == "pending"


def test_replaced_speculations_leave_the_queue_while_requests_keep_the_thread_waiting():
    """Under steady load the thread waits for a quiet moment, and the queue kept every speculation
    ever made: the server grew by about 3 KB a request (382 MB after 90,000)."""
    gate = PredictorGate()
    cache = SpeculativeCache(gate, run=lambda speculation: None)
    context = Context(history=[Event(0.0, action=Action("open", target="a"))], session_id="s")
    with gate.request():  # a request holds the predictor all along: the thread waits
        for number in range(500):
            session = f"s{number % 7}"
            made = [Speculation.after(context, None, 3, Action("close", target="a"), 1.0) for _ in range(2)]
            cache.put(session, made)
            cache.submit(made)
        assert cache.snapshot()["pending"] <= 2 * 7 + 1  # the 7 sessions' newest two each (and one the thread holds)
        assert len(cache._queue) <= 2 * 7
    assert cache.wait_idle(timeout=30)
    cache.close()
