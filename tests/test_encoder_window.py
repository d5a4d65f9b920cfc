"""The history window starts at anchor actions, so a growing session's prompts share their beginning."""

from __future__ import annotations

import random

from nep_core.action_space import UNK, KindSpec, Slot, SymbolicActionSpace
from nep_core.actions import Action
from nep_core.encoder import ActionHistoryEncoder, is_window_anchor, window_start
from nep_core.session import Context, Event

SPACE = SymbolicActionSpace([KindSpec("move", [Slot.number("x", 0, 99, 1)]), KindSpec("paint", [Slot.choice("colour", ["red", "blue", "green"])])])


def session(length: int, seed: int = 0) -> list[Event]:
    chooser = random.Random(seed)
    events = []
    for index in range(length):
        if chooser.random() < 0.6:
            action = Action("move", args={"x": chooser.randrange(100)})
        else:
            action = Action("paint", args={"colour": chooser.choice(["red", "blue", "green"])})
        events.append(Event(t=index * 1.0 + chooser.random(), action=action))
    return events


def shared_beginnings(encoder: ActionHistoryEncoder, events: list[Event], sent: int) -> float:
    """The share of successive requests whose prompt begins with the previous prompt, when the client
    sends only its newest ``sent`` events."""
    shared = 0
    for length in range(1, len(events)):
        before = encoder.encode(Context(history=events[max(0, length - sent) : length]))
        after = encoder.encode(Context(history=events[max(0, length + 1 - sent) : length + 1]))
        shared += after[: len(before)] == before
    return shared / (len(events) - 1)


def test_prompts_share_their_beginning_even_when_the_client_sends_only_its_newest_events():
    events = session(300)
    anchored = ActionHistoryEncoder(SPACE, max_tokens=48, max_events=64, stride=4)
    sliding = ActionHistoryEncoder(SPACE, max_tokens=48, max_events=64, stride=1)
    assert shared_beginnings(anchored, events, sent=32) >= 0.6
    assert shared_beginnings(sliding, events, sent=32) <= 0.2  # a sliding window changes whenever it is full
    # the same holds when max_events, not the token budget, bounds the window
    by_count = ActionHistoryEncoder(SPACE, max_tokens=10_000, max_events=12, stride=4)
    assert shared_beginnings(by_count, events, sent=20) >= 0.6


def test_the_window_keeps_the_newest_actions_within_budget_and_event_count():
    encoder = ActionHistoryEncoder(SPACE, max_tokens=40, max_events=64, stride=4)
    events = session(120, seed=3)
    for length in range(1, len(events) + 1):
        tokens = encoder.encode(Context(history=events[:length]))
        newest = SPACE.encode(events[length - 1].action)
        assert len(tokens) <= 40
        assert tokens[-len(newest) :] == newest
    counted = ActionHistoryEncoder(SPACE, max_tokens=10_000, max_events=5, stride=4)
    tokens = counted.encode(Context(history=events))
    assert sum(token in ("move", "paint") or token.startswith(("move", "paint")) for token in tokens) <= 5


def test_a_history_that_fits_is_written_whole_and_a_window_starts_at_an_anchor():
    events = session(40, seed=5)
    sizes = [len(SPACE.encode(event.action)) for event in events]
    assert window_start(events[:6], sizes[:6], budget=1000, stride=4, whole=True) == 0
    for end in range(10, 40):
        start = window_start(events[:end], sizes[:end], budget=20, stride=4)
        assert sum(sizes[start:end]) <= 20
        earliest = next(index for index in range(end) if sum(sizes[index:end]) <= 20)
        anchors = [index for index in range(earliest, end) if is_window_anchor(events[index], 4)]
        assert start == (anchors[0] if anchors else earliest)
    # an anchor is a property of the action, not of its time or position
    first = events[0]
    assert is_window_anchor(first, 4) == is_window_anchor(Event(t=first.t + 1234.5, action=first.action), 4)
    assert sum(is_window_anchor(event, 4) for event in session(400, seed=9)) in range(40, 180)


def test_an_action_objects_tokens_are_written_once_and_an_unwritable_action_is_unknown(monkeypatch):
    encoder = ActionHistoryEncoder(SPACE)
    written = []
    encode = SPACE.encode
    monkeypatch.setattr(SPACE, "encode", lambda action: (written.append(action), encode(action))[1])
    action = Action("move", args={"x": 7})
    assert encoder.action_tokens(action) == tuple(encode(action))
    assert encoder.action_tokens(action) == tuple(encode(action)) and len(written) == 1  # the same object
    equal = Action("move", args={"x": 7})
    assert encoder.action_tokens(equal) == tuple(encode(action)) and len(written) == 2  # another object
    assert encoder.action_tokens(Action("fly")) == (UNK,)
    context = Context(history=[Event(t=0.0, action=action), Event(t=5.0, action=equal)])
    assert encoder.encode(context) == ActionHistoryEncoder(SPACE).encode(context)
