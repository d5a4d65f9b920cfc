"""History encoders: (history so far, current state) to model context under a token budget."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Hashable, Mapping, Sequence

from nep_core.action_space import UNK, ActionSpace
from nep_core.errors import InvalidAction
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

    def settings(self) -> dict[str, Any]:
        """What the checkpoint records about this encoder (``nep.json``)."""
        return {"class": type(self).__name__, "max_tokens": self.max_tokens}

    def bind_tokenizer(self, tokenizer: Any) -> None:
        """Called with the model's tokenizer before featurizing; encoders that write text with it override."""


def gap_token(seconds: float) -> str | None:
    reached = [bucket for bucket in GAP_BUCKETS if seconds >= bucket]
    return f"dt>{reached[-1]:g}" if reached else None


@dataclass
class ActionHistoryEncoder(HistoryEncoder):
    """The generic encoder for symbolic domains: each recent action as its action-space tokens.

    A pause before an action adds a gap token; an action the space cannot write becomes ``<unk>``;
    ``state_tokens`` (override or pass a function) renders the current state after the history.
    """

    action_space: ActionSpace
    max_tokens: int = 256
    max_events: int = 64

    def encode(self, context: Context) -> list[str]:
        state_part = self.state_tokens(context.state)
        budget = max(0, self.max_tokens - len(state_part))
        chunks: list[list[str]] = []
        used = 0
        events = [event for event in context.history if event.action is not None][-self.max_events :]
        for position in range(len(events) - 1, -1, -1):
            chunk = self.event_tokens(events[position], events[position - 1] if position else None)
            if used + len(chunk) > budget:
                break
            chunks.append(chunk)
            used += len(chunk)
        tokens = [token for chunk in reversed(chunks) for token in chunk]
        return tokens + state_part

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
        try:
            tokens.extend(self.action_space.encode(event.action))
        except InvalidAction:
            tokens.append(UNK)
        return tokens

    def state_tokens(self, state: Mapping[str, Any] | None) -> list[str]:
        """Tokens for the current state snapshot; none by default."""
        return []

    def vocabulary(self) -> list[str]:
        return [f"dt>{bucket:g}" for bucket in GAP_BUCKETS]

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "max_events": self.max_events}


def context_from_events(events: Sequence[Event], session_id: str = "", meta: Mapping[str, Any] | None = None) -> Context:
    from nep_core.session import latest_state

    return Context(history=list(events), state=latest_state(events), session_id=session_id, meta=meta or {})
