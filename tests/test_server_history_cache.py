"""The server parses only what a session's request appends to its previous one."""

from __future__ import annotations

import math

import pytest

from nep_core.server.errors import ApiError
from nep_core.server.history_cache import ParsedHistories


def records(count: int, start: int = 0) -> list[dict]:
    return [{"t": float(index), "action": {"kind": "write", "args": {"word": "x", "at": [index, [0.5, 1.5]]}}} for index in range(start, start + count)]


def parse(cache: ParsedHistories, session: str, history: list[dict]):
    return cache.parse(session, history, None, max_events=100, max_depth=8)


def test_a_growing_history_reuses_the_events_it_parsed_before():
    cache = ParsedHistories()
    first = parse(cache, "s", records(5))
    second = parse(cache, "s", records(5) + records(2, start=5))
    assert [event.t for event in second] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert all(old is new for old, new in zip(first, second))  # the same objects
    assert second[5].action.args["at"] == [5, [0.5, 1.5]]
    other = parse(cache, "other", records(5))
    assert all(old is not new for old, new in zip(first, other))  # sessions are kept apart


def test_a_changed_record_is_parsed_again_from_where_it_differs():
    cache = ParsedHistories()
    first = parse(cache, "s", records(4))
    changed = records(4)
    changed[2]["action"]["args"]["word"] = "y"
    second = parse(cache, "s", changed)
    assert second[:2] == first[:2] and second[0] is first[0] and second[1] is first[1]
    assert second[2] is not first[2] and second[2].action.args["word"] == "y"
    assert second[3] is not first[3]


@pytest.mark.parametrize("before, after", [(1, True), (0, False), (1, 1.0), (True, 1)])
def test_records_are_reused_only_when_they_are_the_same_json(before, after):
    """The cache compared records with ==, where 1 == 1.0 == true: an event parsed from `1` stood for a `true`."""
    cache = ParsedHistories()
    first = parse(cache, "s", [{"t": 0.0, "action": {"kind": "write", "args": {"v": before}}}])
    second = parse(cache, "s", [{"t": 0.0, "action": {"kind": "write", "args": {"v": after}}}])
    assert second[0] is not first[0]
    assert type(second[0].action.args["v"]) is type(after) and second[0].action.args["v"] == after
    assert parse(cache, "s", [{"t": 0.0, "action": {"kind": "write", "args": {"v": after}}}])[0] is second[0]


def test_acceptance_does_not_depend_on_the_request_before():
    cache = ParsedHistories()
    parse(cache, "s", [{"t": 1, "action": {"kind": "write"}}])
    with pytest.raises(ApiError) as caught:
        parse(cache, "s", [{"t": True, "action": {"kind": "write"}}])
    assert caught.value.loc == "history[0].t"


@pytest.mark.parametrize("bad, path, reason", [
    ({"t": "soon", "action": {"kind": "write"}}, "history[5].t", "number of seconds"),
    ({"t": 5.0, "action": {"kind": "write", "args": {"n": math.inf}}}, "history[5].action.args.n", "finite"),
    ({"t": 5.0, "action": {"kind": "write", "args": {"n": [[[[[[[[1]]]]]]]]}}}, "history[5]", "nested deeper"),
])
def test_a_bad_appended_record_is_named_by_its_place_in_the_whole_history(bad, path, reason):
    cache = ParsedHistories()
    parse(cache, "s", records(5))
    with pytest.raises(ApiError) as caught:
        parse(cache, "s", records(5) + [bad])
    assert caught.value.status == 422
    assert caught.value.loc == path and reason in caught.value.msg


def test_the_cache_is_bounded_by_sessions_and_events():
    cache = ParsedHistories(max_sessions=3, max_events=12)
    for index in range(5):
        parse(cache, f"s{index}", records(2))
    assert len(cache) == 3
    parse(cache, "big", records(10))
    assert len(cache) == 2  # 10 + 2 events: one older session went
    parse(cache, "huge", records(13))  # more than the whole budget: parsed, not kept
    assert len(cache) == 2
