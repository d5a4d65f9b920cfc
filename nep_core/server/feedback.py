"""Feedback logs: ``<data_dir>/<domain>/<session>.jsonl``, appended with the crash-safe session-log writer.

``append`` writes a request's records whole or not at all, in one write, and returns only after
they are fsynced, so an acknowledged record survives a crash. One session's appends run one at a
time, different sessions' side by side. A writer stays open per recent session (at most
``max_open`` of them, beyond the sessions being written); before each write it checks that its file is
still the one at the path, so a log moved or deleted meanwhile is made anew. ``close`` (at shutdown) waits for the
appends in progress and refuses any later one (``StoreClosed``): no log is opened again.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

from nep_core.server.schemas import SESSION_ID_PATTERN, SESSION_ID_RULE
from nep_core.session import Session
from nep_core.sessionlog import LOG_SUFFIX, SessionLogWriter, utc_now

SOURCE = "nep serve"


class StoreClosed(Exception):
    """The server is shutting down: nothing more is written."""


class FeedbackStore:
    """The session logs one server appends to."""

    def __init__(self, data_dir: str | Path, domain: str, max_open: int = 64):
        self.data_dir = Path(data_dir)
        self.domain = domain
        self.folder = self.data_dir / domain
        self.max_open = max_open
        self._writers: OrderedDict[str, SessionLogWriter] = OrderedDict()
        self._busy: dict[str, list] = {}
        """``[lock, count]`` of each session with an append running or waiting: bounded by the requests in flight."""
        self._table = threading.Condition()
        self._closed = False

    def path(self, session_id: str) -> Path:
        """The log of ``session_id``; a ``ValueError`` for an id that could leave the folder."""
        if not re.fullmatch(SESSION_ID_PATTERN, session_id):
            raise ValueError(f"session id {session_id!r} {SESSION_ID_RULE}")
        return self.folder / f"{session_id}{LOG_SUFFIX}"

    def append(self, session_id: str, records: Iterable[dict[str, Any]]) -> Path:
        """Append ``records`` in order, in one write and one fsync (all of them, or none: ``ValueError``
        when one cannot be encoded, ``ForeignFile`` when the file is no log of this domain); returns the log's path."""
        lock = self._enter(session_id)
        try:
            with lock:
                writer = self._writer(session_id)
                writer.extend(records)
                return writer.path
        finally:
            self._leave(session_id)

    def close(self) -> None:
        """Refuse every later append, wait for those in progress, and close the logs."""
        with self._table:
            self._closed = True
            self._table.wait_for(lambda: not self._busy)
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()

    def _enter(self, session_id: str) -> threading.Lock:
        with self._table:
            if self._closed:
                raise StoreClosed("the server is shutting down")
            entry = self._busy.setdefault(session_id, [threading.Lock(), 0])
            entry[1] += 1
            return entry[0]

    def _leave(self, session_id: str) -> None:
        with self._table:
            entry = self._busy[session_id]
            entry[1] -= 1
            if not entry[1]:
                del self._busy[session_id]
                self._table.notify_all()

    def _writer(self, session_id: str) -> SessionLogWriter:
        """The session's writer (its lock held), opened on demand; the least recent idle ones beyond ``max_open`` are closed."""
        with self._table:
            writer = self._writers.get(session_id)
            if writer is None:
                session = Session(id=session_id, domain=self.domain, created=utc_now(), meta={"source": SOURCE})
                writer = self._writers[session_id] = SessionLogWriter.for_session(self.path(session_id), session)
            self._writers.move_to_end(session_id)
            if len(self._writers) > self.max_open:
                idle = [other for other in self._writers if other not in self._busy]
                for other in idle[: len(self._writers) - self.max_open]:
                    self._writers.pop(other).close()
            return writer


def feedback_records(
    *,
    t: float,
    accepted: bool,
    suggestion: dict[str, Any] | None,
    shown_at: float | None,
    request_id: str | None,
    actual: dict[str, Any] | None,
    outcome: str | None = None,
    reason: str | None = None,
) -> list[dict[str, Any]]:
    """The feedback record (DESIGN.md section 5) and, when known, the user's actual action as an action event."""
    feedback: dict[str, Any] = {}
    if suggestion is not None:
        feedback["suggestion"] = suggestion
    if shown_at is not None:
        feedback["shown_at"] = shown_at
    feedback["accepted"] = accepted
    if outcome is not None:
        feedback["outcome"] = outcome
    if reason is not None:
        feedback["reason"] = reason
    if request_id is not None:
        feedback["request_id"] = request_id
    records = [{"t": t, "feedback": feedback}]
    if actual is not None:
        records.append({"t": t, "action": actual})
    return records
