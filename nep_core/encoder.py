"""History encoders: (history so far, current state) to model context under a token budget."""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Callable, Hashable, Mapping, Sequence

from nep_core.action_space import UNK, ActionSpace
from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_core.memo import BoundedMemo
from nep_core.session import Context, Event

GAP_BUCKETS = (0.5, 2.0, 5.0, 15.0, 60.0)
"""Seconds: a pause before an action is written as the largest bucket it reaches (``dt>2``)."""


class HistoryEncoder(ABC):
    """Writes a context as token strings, oldest first, at most ``max_tokens`` of them."""

    max_tokens: int = 512

    @abstractmethod
    def encode(self, context: Context) -> list[str]:
        """Token strings for the model's input, newest events kept first when the budget is short."""

    def time_key(self, context: Context) -> Hashable | None:
        """What ``encode`` reads of the events' times, as a key: two contexts with the same events up
        to their times and equal keys are encoded alike. None (the default): the encoder cannot say."""
        return None

    def vocabulary(self) -> list[str]:
        """Tokens this encoder writes beyond the action space's vocabulary."""
        return []

    def state_problem(self, state: Mapping[str, Any], where: str = "state") -> str | None:
        """Why this encoder cannot read the snapshot ``state``, as ``FIELD: reason`` with FIELD under
        ``where`` (``state.timeline.rate: must be a positive number``), or None. ``nep serve`` answers a
        request holding such a snapshot with 422. The default reads any snapshot."""
        return None

    def settings(self) -> dict[str, Any]:
        """What the checkpoint records about this encoder (``nep.json``)."""
        return {"class": type(self).__name__, "max_tokens": self.max_tokens}

    def bind_tokenizer(self, tokenizer: Any) -> None:
        """Called with the model's tokenizer before featurizing; encoders that write text with it override."""


def is_window_anchor(event: Event, stride: int) -> bool:
    """Whether a window of recent events may start at ``event``: about one action in ``stride`` is an
    anchor, chosen by a hash of the action itself, never by its position (which shifts when a client
    sends only its newest events) nor its time (which the encoder reads only as gap tokens)."""
    if stride <= 1 or event.action is None:
        return True
    return zlib.crc32(event.action.key().encode()) % stride == 0


def window_start(events: Sequence[Event], chunk_sizes: Sequence[int], budget: int, stride: int = 1, whole: bool = False) -> int:
    """Where the window of recent ``events`` (their tokens ``chunk_sizes`` long) starts: at the first
    anchor (``is_window_anchor``) from which the rest fits ``budget`` tokens, so that the prompts of a
    growing session keep their beginning for several requests and the server's KV cache serves them;
    at the earliest event that fits when no anchor does. ``whole``: ``events`` are all the history
    there is, so when all of it fits the window starts at its beginning."""
    earliest = len(events)
    used = 0
    while earliest > 0 and used + chunk_sizes[earliest - 1] <= budget:
        earliest -= 1
        used += chunk_sizes[earliest]
    if earliest == 0 and whole:
        return 0
    for start in range(earliest, len(events)):
        if is_window_anchor(events[start], stride):
            return start
    return earliest


def gap_token(seconds: float) -> str | None:
    reached = [bucket for bucket in GAP_BUCKETS if seconds >= bucket]
    return f"dt>{reached[-1]:g}" if reached else None


WRITTEN_ACTIONS = 4096
"""Actions whose tokens an ``ActionHistoryEncoder`` remembers."""


@dataclass
class ActionHistoryEncoder(HistoryEncoder):
    """The generic encoder for symbolic domains: each recent action as its action-space tokens.

    A pause before an action adds a gap token; an action the space cannot write becomes ``<unk>``;
    ``state_tokens`` (override or pass a function) renders the current state after the history. The
    window of recent actions starts at an anchor (``window_start``, about one action in ``stride``).
    """

    action_space: ActionSpace
    max_tokens: int = 256
    max_events: int = 64
    stride: int = 4
    _written: BoundedMemo[tuple[Action, tuple[str, ...]]] = field(
        default_factory=lambda: BoundedMemo(WRITTEN_ACTIONS), init=False, repr=False, compare=False
    )
    """Tokens of recently written actions, by the action object (a session's requests repeat its history)."""

    def encode(self, context: Context) -> list[str]:
        state_part = self.state_tokens(context.state)
        budget = max(0, self.max_tokens - len(state_part))
        events = [event for event in context.history if event.action is not None]
        return self.window_tokens(events, lambda index: self.event_tokens(events[index], events[index - 1] if index else None), budget) + state_part

    def window_tokens(self, events: Sequence[Event], write: Callable[[int], list[str]], budget: int) -> list[str]:
        """The tokens of the window of recent ``events`` (``write(index)`` writes ``events[index]``):
        at most ``max_events`` of them and ``budget`` tokens, from an anchor (``window_start``)."""
        first = max(0, len(events) - self.max_events)
        chunks = [write(index) for index in range(first, len(events))]
        start = window_start(events[first:], [len(chunk) for chunk in chunks], budget, self.stride, whole=first == 0)
        return [token for chunk in chunks[start:] for token in chunk]

    def time_key(self, context: Context) -> tuple[str | None, ...]:
        """The gap token between each two successive actions: all this encoder (and a subclass that
        writes pauses with ``gap_token`` only) reads of times."""
        events = [event for event in context.history if event.action is not None]
        return tuple(gap_token(later.t - earlier.t) for earlier, later in pairwise(events))

    def event_tokens(self, event: Event, previous: Event | None) -> list[str]:
        tokens: list[str] = []
        if previous is not None:
            gap = gap_token(event.t - previous.t)
            if gap:
                tokens.append(gap)
        tokens.extend(self.action_tokens(event.action))
        return tokens

    def action_tokens(self, action: Action) -> tuple[str, ...]:
        """The action space's tokens for ``action`` (``<unk>`` when it cannot write it), remembered for the
        same action object (kept in the table, so its id is not reused meanwhile): actions are values,
        never changed in place."""
        return self._written.get(id(action), lambda: (action, self._write(action)))[1]

    def _write(self, action: Action) -> tuple[str, ...]:
        try:
            return tuple(self.action_space.encode(action))
        except InvalidAction:
            return (UNK,)

    def state_tokens(self, state: Mapping[str, Any] | None) -> list[str]:
        """Tokens for the current state snapshot; none by default."""
        return []

    def vocabulary(self) -> list[str]:
        return [f"dt>{bucket:g}" for bucket in GAP_BUCKETS]

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "max_events": self.max_events, "stride": self.stride}


def context_from_events(events: Sequence[Event], session_id: str = "", meta: Mapping[str, Any] | None = None) -> Context:
    from nep_core.session import latest_state

    return Context(history=list(events), state=latest_state(events), session_id=session_id, meta=meta or {})
