"""The server's per-session caches are bounded in bytes, not only in sessions and events.

400 sessions whose requests carried ~0.9 MB states took a server from 125 MB to 694 MB resident
(docs/serving.md, Concurrency): the history cache kept 256 such sessions (their records marshalled, and
the events they parsed to) and the speculation kept 1,024 (its requests' histories and states). Both
now drop their least recently used sessions once a byte budget is passed, and keep no session bigger
than the whole budget, while still answering it correctly.
"""

from __future__ import annotations

import httpx
import pytest
from server_helpers import InnermostClose, action_event

from nep_core.actions import Action
from nep_core.server import create_app
from nep_core.server.gate import PredictorGate
from nep_core.server.history_cache import ParsedHistories, record_key
from nep_core.server.runner import BackgroundServer
from nep_core.server.speculation import Speculation, SpeculationSettings, SpeculativeCache
from nep_core.session import Context, Event

STATE_BYTES = 300_000
BUDGET = 1_000_000  # three sessions of STATE_BYTES fit, a fourth does not
TAGS_OPEN = [action_event(1.0, "open", "a"), action_event(2.0, "open", "b"), action_event(3.0, "write", word="x")]


def big_state(session: str, size: int = STATE_BYTES) -> dict:
    """A snapshot of about ``size`` bytes, different for each session (nothing is shared between sessions)."""
    line = f"{session}: " + "x" * 60 + "\n"
    return {"text": line * (size // len(line))}


def state_event(session: str, size: int = STATE_BYTES) -> dict:
    return {"t": 0.0, "state": big_state(session, size)}


def parse(cache: ParsedHistories, session: str, history: list[dict]):
    return cache.parse(session, history, None, max_events=100, max_depth=8)


# -- the history cache ---------------------------------------------------------------------------


def test_the_history_cache_drops_the_oldest_sessions_once_over_its_byte_budget():
    cache = ParsedHistories(max_bytes=BUDGET)
    for index in range(6):
        parse(cache, f"s{index}", [state_event(f"s{index}"), *TAGS_OPEN])
    assert 0 < cache.kept_bytes <= BUDGET
    assert len(cache) * STATE_BYTES <= BUDGET  # counts alone (256 sessions, 100,000 events) kept all six
    assert "s0" not in cache and "s1" not in cache and "s5" in cache
    history = [state_event("s0"), *TAGS_OPEN]
    again = parse(cache, "s0", history)  # an evicted session is parsed afresh
    assert again[0].state == big_state("s0") and [event.action.kind for event in again[1:]] == ["open", "open", "write"]


def test_a_history_bigger_than_the_whole_byte_budget_is_parsed_but_not_kept():
    cache = ParsedHistories(max_bytes=BUDGET)
    for index in range(2):
        parse(cache, f"s{index}", [state_event(f"s{index}"), *TAGS_OPEN])
    kept = cache.kept_bytes
    history = [state_event("big", 3 * BUDGET), *TAGS_OPEN]
    events = parse(cache, "big", history)
    assert events[0].state == big_state("big", 3 * BUDGET) and len(events) == 4
    assert "big" not in cache
    assert len(cache) == 2 and cache.kept_bytes == kept  # nobody else was evicted for it
    assert parse(cache, "big", [*history, action_event(4.0, "close", "b")])[-1].action == Action("close", target="b")
    assert "big" not in cache


def test_the_history_cache_counts_the_bytes_of_the_records_it_keeps():
    cache = ParsedHistories()
    history = [state_event("s"), *TAGS_OPEN]
    parse(cache, "s", history)
    assert cache.kept_bytes == sum(len(record_key(record)) for record in history)
    parse(cache, "s", history[:2])  # a session's new request replaces what it had
    assert cache.kept_bytes == sum(len(record_key(record)) for record in history[:2])


# -- the speculation cache -----------------------------------------------------------------------


def speculation(session: str, size: int) -> Speculation:
    context = Context(history=[Event(0.0, action=Action("open", target="a"))], session_id=session)
    return Speculation.after(context, None, 3, Action("close", target="a"), 1.0, size)


def test_the_speculation_cache_drops_the_oldest_sessions_once_over_its_byte_budget():
    cache = SpeculativeCache(PredictorGate(), run=lambda speculation: None, max_bytes=BUDGET)
    made = {f"s{index}": speculation(f"s{index}", STATE_BYTES) for index in range(5)}
    for session, kept in made.items():
        cache.put(session, [kept])
    assert cache.kept_bytes == 3 * STATE_BYTES and len(cache) == 3
    assert made["s0"].status == made["s1"].status == "dropped" and cache.peek("s0") == []
    assert cache.peek("s4") == [made["s4"]] and made["s4"].status == "pending"


def test_a_sessions_speculations_share_its_request_and_count_once():
    cache = SpeculativeCache(PredictorGate(), run=lambda speculation: None, max_bytes=BUDGET)
    both = [speculation("s", STATE_BYTES), speculation("s", STATE_BYTES)]
    cache.put("s", both)
    assert cache.kept_bytes == STATE_BYTES
    cache.discard("s")
    assert cache.kept_bytes == 0 and all(made.status == "dropped" for made in both)


def test_a_speculation_bigger_than_the_whole_byte_budget_is_not_kept_and_evicts_nobody():
    cache = SpeculativeCache(PredictorGate(), run=lambda speculation: None, max_bytes=BUDGET)
    small = speculation("small", STATE_BYTES)
    cache.put("small", [small])
    big = speculation("big", 2 * BUDGET)
    cache.put("big", [big])
    assert big.status == "dropped" and cache.peek("big") == []
    assert cache.peek("small") == [small] and cache.kept_bytes == STATE_BYTES


# -- over HTTP -----------------------------------------------------------------------------------


@pytest.fixture()
def served(tags_domain, tmp_path):
    """A server whose caches have a 1 MB budget each (and a body limit that lets a bigger session through)."""
    app = create_app(tags_domain, InnermostClose(), data_dir=tmp_path, max_body_bytes=8 * BUDGET,
                     speculation=SpeculationSettings(max_bytes=BUDGET, quiet=0.0))
    app.state.histories.max_bytes = BUDGET
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        yield app, client


def ask(app, client: httpx.Client, body: dict) -> dict:
    response = client.post("/v1/suggest", json=body)
    assert response.status_code == 200, response.text
    assert app.state.service.speculations.wait_idle(timeout=60)
    return response.json()


def first_action(answer: dict) -> dict:
    return answer["suggestions"][0]["action"]


CLOSE_B = {"kind": "close", "target": "b"}
CLOSE_A = {"kind": "close", "target": "a"}
ACCEPTED_AT = TAGS_OPEN[-1]["t"] + SpeculationSettings().accept_delay  # InnermostClose has no input_key: the assumed time


def test_sessions_with_big_state_events_stay_within_both_budgets_and_are_answered_after_eviction(served):
    app, client = served
    histories, speculations = app.state.histories, app.state.service.speculations
    for index in range(6):
        answer = ask(app, client, {"session": f"s{index}", "history": [state_event(f"s{index}"), *TAGS_OPEN]})
        assert first_action(answer) == CLOSE_B
    assert 0 < histories.kept_bytes <= BUDGET and len(histories) * STATE_BYTES <= BUDGET
    assert 0 < speculations.kept_bytes <= BUDGET and len(speculations) * STATE_BYTES <= BUDGET
    assert "s0" not in histories and speculations.peek("s0") == []
    assert "s5" in histories and speculations.peek("s5") != []
    accepted = {"t": ACCEPTED_AT, "action": CLOSE_B}
    evicted = ask(app, client, {"session": "s0", "history": [state_event("s0"), *TAGS_OPEN, accepted]})
    newest = ask(app, client, {"session": "s5", "history": [state_event("s5"), *TAGS_OPEN, accepted]})
    assert first_action(evicted) == first_action(newest) == CLOSE_A  # the same answer, predicted afresh
    assert evicted["speculative"] is False and newest["speculative"] is True


def test_explicit_states_count_against_the_speculation_budget(served):
    """A request's ``state`` is kept by its speculation only (the history cache keeps its history)."""
    app, client = served
    speculations = app.state.service.speculations
    for index in range(6):
        ask(app, client, {"session": f"s{index}", "history": TAGS_OPEN, "state": big_state(f"s{index}")})
    assert STATE_BYTES <= speculations.kept_bytes <= BUDGET and len(speculations) * STATE_BYTES <= BUDGET
    assert speculations.peek("s0") == [] and speculations.peek("s5") != []


def test_a_session_bigger_than_the_budgets_is_answered_but_kept_by_neither(served):
    app, client = served
    histories, speculations = app.state.histories, app.state.service.speculations
    for index in range(2):
        ask(app, client, {"session": f"s{index}", "history": [state_event(f"s{index}"), *TAGS_OPEN]})
    kept = (len(histories), histories.kept_bytes, len(speculations), speculations.kept_bytes)
    history = [state_event("big", 2 * BUDGET), *TAGS_OPEN]
    answer = ask(app, client, {"session": "big", "history": history})
    assert first_action(answer) == CLOSE_B
    assert "big" not in histories and speculations.peek("big") == []
    assert (len(histories), histories.kept_bytes, len(speculations), speculations.kept_bytes) == kept
    following = ask(app, client, {"session": "big", "history": [*history, {"t": ACCEPTED_AT, "action": CLOSE_B}]})
    assert first_action(following) == CLOSE_A and following["speculative"] is False
