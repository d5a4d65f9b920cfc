"""Sessions: the ordered events of one user working in one document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from nep_core.actions import Action


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
