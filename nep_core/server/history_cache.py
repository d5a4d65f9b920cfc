"""Each session's last parsed history, so that its next request parses only what it appends.

A client sends a session's whole history with every request, and the history grows append-only. The
server keeps, per session, a key of each record of its last request and the events they parsed to;
the next request's leading records whose keys are the same reuse those events, the same objects,
which also lets the speculation and the encoders' own caches recognize the history they saw. A key
is the record marshalled (in C, about as fast as comparing the records): it tells apart what ``==``
takes as equal (``1``, ``1.0`` and ``true``), so whether a request is accepted, and what the model
reads, never depends on the request before it. Bounded: the least recently used sessions go first
once more than ``max_sessions`` sessions or ``max_events`` events in all are kept.
"""

from __future__ import annotations

import marshal
import threading
from collections import OrderedDict
from typing import Any, Mapping, Sequence

from nep_core.server.events import StateProblem, parse_history
from nep_core.session import Event


def record_key(record: Mapping[str, Any]) -> object:
    """Equal for two records only when they are the same JSON, types and key order included."""
    try:
        return marshal.dumps(record, 2)  # version 2: no back-references, so the bytes depend on the value alone
    except ValueError:  # nested too deeply to marshal: equal to nothing
        return object()


class ParsedHistories:
    """``parse(session, records, ...)``: ``parse_history`` reusing the session's previous request."""

    def __init__(self, max_sessions: int = 256, max_events: int = 100_000):
        self.max_sessions = max_sessions
        self.max_events = max_events
        self._sessions: OrderedDict[str, tuple[list[object], list[Event]]] = OrderedDict()
        self._events = 0
        self._lock = threading.Lock()

    def parse(self, session: str, records: Sequence[Mapping[str, Any]], action_space, *, max_events: int, max_depth: int,
              state_problem: StateProblem | None = None) -> list[Event]:
        keys = [record_key(record) for record in records[: max_events + 1]]
        with self._lock:
            known_keys, known_events = self._sessions.get(session, ((), ()))
        reused = 0
        for key, known in zip(keys, known_keys):
            if key != known:
                break
            reused += 1
        events = parse_history(records, action_space, max_events=max_events, max_depth=max_depth,
                               known_events=known_events[:reused], state_problem=state_problem)
        self._keep(session, keys, events)
        return events

    def __len__(self) -> int:
        return len(self._sessions)

    def _keep(self, session: str, keys: list[object], events: list[Event]) -> None:
        with self._lock:
            old = self._sessions.pop(session, None)
            self._events -= len(old[1]) if old is not None else 0
            if len(events) > self.max_events:
                return
            self._sessions[session] = (keys, events)
            self._events += len(events)
            while len(self._sessions) > self.max_sessions or self._events > self.max_events:
                _, (_, dropped) = self._sessions.popitem(last=False)
                self._events -= len(dropped)
