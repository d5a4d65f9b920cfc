"""Sessions: the ordered events of one user working in one document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

from nep_core.actions import Action

T = TypeVar("T")


@dataclass(frozen=True)
class Event:
    """One line of a session log after the header: an action, a state snapshot or feedback."""

    t: float
    action: Action | None = None
    state: Mapping[str, Any] | None = None
    feedback: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.t}
        if self.action is not None:
            out["action"] = self.action.to_json()
        if self.state is not None:
            out["state"] = dict(self.state)
        if self.feedback is not None:
            out["feedback"] = dict(self.feedback)
        return out


@dataclass
class Session:
    """One user in one document: header fields plus events in time order."""

    id: str
    domain: str
    events: list[Event] = field(default_factory=list)
    created: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The group that splits keep together: ``meta["source_id"]`` (a repository, a project) or the session."""
        return str(self.meta.get("source_id") or self.id)

    def actions(self) -> list[Action]:
        return [event.action for event in self.events if event.action is not None]

    def header(self) -> dict[str, Any]:
        return {"nep": 1, "domain": self.domain, "session": self.id, "created": self.created, "meta": self.meta}


@dataclass(frozen=True)
class Context:
    """What a predictor or verifier sees at a trigger point: the history so far and the latest state."""

    history: Sequence[Event]
    state: Mapping[str, Any] | None = None
    session_id: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def actions(self) -> list[Action]:
        return [event.action for event in self.history if event.action is not None]

    def edits(self) -> list[Action]:
        return [action for action in self.actions() if action.edit]


def latest_state(events: Sequence[Event]) -> Mapping[str, Any] | None:
    """The newest state snapshot among ``events``, or None."""
    for event in reversed(events):
        if event.state is not None:
            return event.state
    return None


def iter_actions(events: Sequence[Event]) -> Iterator[tuple[int, Event]]:
    for index, event in enumerate(events):
        if event.action is not None:
            yield index, event


def per_context(function: Callable[[Any], T]) -> Callable[[Any], T]:
    """``function(context)``, remembered for the last context it was called with: the same object with
    the same number of events, the same newest event and the same state. A request's encoder, action
    space and verifiers each read the same context; the result is shared, so it must not be changed."""
    last: tuple[tuple, Any, T] | None = None

    def remembered(context: Any) -> T:
        nonlocal last
        history = getattr(context, "history", None) or ()
        key = (id(context), len(history), id(history[-1]) if history else 0, id(getattr(context, "state", None)))
        seen = last  # one read: another thread may replace it meanwhile
        if seen is not None and seen[0] == key and seen[1] is context:
            return seen[2]
        result = function(context)
        last = (key, context, result)
        return result

    remembered.__doc__ = function.__doc__
    remembered.__wrapped__ = function
    return remembered
