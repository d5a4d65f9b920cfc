"""Each session's last parsed history, so that its next request parses only what it appends.

A client sends a session's whole history with every request, and the history grows append-only. The
server keeps, per session, a key of each record of its last request and the events they parsed to;
the next request's leading records whose keys are the same reuse those events, the same objects,
which also lets the speculation and the encoders' own caches recognize the history they saw. A key
is the record marshalled (in C, about as fast as comparing the records): it tells apart what ``==``
takes as equal (``1``, ``1.0`` and ``true``), so whether a request is accepted, and what the model
reads, never depends on the request before it. Bounded: the least recently used sessions go first
once more than ``max_sessions`` sessions, ``max_events`` events or ``max_bytes`` bytes of marshalled
records in all are kept (the keys' own lengths, so the budget costs nothing to track; the events hold
about as much again). A session bigger than a whole budget is parsed but not kept.
"""

from __future__ import annotations

import marshal
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from nep_core.server.events import StateProblem, parse_history
from nep_core.session import Event

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""Marshalled records the history cache keeps, in all: 256 sessions of up to 256 KB each, fewer larger ones."""


def record_key(record: Mapping[str, Any]) -> object:
    """Equal for two records only when they are the same JSON, types and key order included."""
    try:
        return marshal.dumps(record, 2)  # version 2: no back-references, so the bytes depend on the value alone
    except ValueError:  # nested too deeply to marshal: equal to nothing
        return object()


def key_size(key: object) -> int:
    """The bytes of a ``record_key`` (0 for a record that could not be marshalled)."""
    return len(key) if isinstance(key, bytes) else 0


def marshalled_size(value: Any) -> int:
    """The bytes of ``value`` (JSON) marshalled as ``record_key`` does: about what a text-heavy value holds in memory."""
    return key_size(record_key(value))


@dataclass(frozen=True)
class KeptHistory:
    """A session's last request: its records' keys, the events they parsed to, and the keys' bytes."""

    keys: list[object]
    events: list[Event]
    size: int


class ParsedHistories:
    """``parse(session, records, ...)``: ``parse_history`` reusing the session's previous request."""

    def __init__(self, max_sessions: int = 256, max_events: int = 100_000, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_sessions = max_sessions
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._sessions: OrderedDict[str, KeptHistory] = OrderedDict()
        self._events = 0
        self._bytes = 0
        self._lock = threading.Lock()

    def parse(self, session: str, records: Sequence[Mapping[str, Any]], action_space, *, max_events: int, max_depth: int,
              state_problem: StateProblem | None = None) -> list[Event]:
        return self.parse_sized(session, records, action_space, max_events=max_events, max_depth=max_depth,
                                state_problem=state_problem)[0]

    def parse_sized(self, session: str, records: Sequence[Mapping[str, Any]], action_space, *, max_events: int,
                    max_depth: int, state_problem: StateProblem | None = None) -> tuple[list[Event], int]:
        """``parse``, and the bytes of the records marshalled (what the history holds, for a budget)."""
        keys = [record_key(record) for record in records[: max_events + 1]]
        size = sum(map(key_size, keys))
        with self._lock:
            kept = self._sessions.get(session)
        known_keys, known_events = (kept.keys, kept.events) if kept is not None else ((), ())
        reused = 0
        for key, known in zip(keys, known_keys):
            if key != known:
                break
            reused += 1
        events = parse_history(records, action_space, max_events=max_events, max_depth=max_depth,
                               known_events=known_events[:reused], state_problem=state_problem)
        self._keep(session, KeptHistory(keys, events, size))
        return events, size

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session: str) -> bool:
        return session in self._sessions

    @property
    def kept_bytes(self) -> int:
        """The bytes of the marshalled records kept now (at most ``max_bytes``)."""
        return self._bytes

    def _keep(self, session: str, kept: KeptHistory) -> None:
        with self._lock:
            old = self._sessions.pop(session, None)
            if old is not None:
                self._events -= len(old.events)
                self._bytes -= old.size
            if len(kept.events) > self.max_events or kept.size > self.max_bytes:
                return  # more than the whole budget: parsed, not kept (its next request parses it all again)
            self._sessions[session] = kept
            self._events += len(kept.events)
            self._bytes += kept.size
            while len(self._sessions) > self.max_sessions or self._events > self.max_events or self._bytes > self.max_bytes:
                _, dropped = self._sessions.popitem(last=False)
                self._events -= len(dropped.events)
                self._bytes -= dropped.size
