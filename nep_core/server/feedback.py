"""Feedback logs: ``<data_dir>/<domain>/<session>.jsonl``, appended with the crash-safe session-log writer.

``append`` returns only after every record is written and fsynced, so an acknowledged record
survives a crash. A writer stays open per recent session (at most ``max_open`` of them).
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


class FeedbackStore:
    """The session logs one server appends to."""

    def __init__(self, data_dir: str | Path, domain: str, max_open: int = 64):
        self.data_dir = Path(data_dir)
        self.domain = domain
        self.folder = self.data_dir / domain
        self.max_open = max_open
        self._writers: OrderedDict[str, SessionLogWriter] = OrderedDict()
        self._lock = threading.Lock()

    def path(self, session_id: str) -> Path:
        """The log of ``session_id``; a ``ValueError`` for an id that could leave the folder."""
        if not re.fullmatch(SESSION_ID_PATTERN, session_id):
            raise ValueError(f"session id {session_id!r} {SESSION_ID_RULE}")
        return self.folder / f"{session_id}{LOG_SUFFIX}"

    def append(self, session_id: str, records: Iterable[dict[str, Any]]) -> Path:
        """Append ``records`` in order, each flushed and fsynced; returns the log's path."""
        with self._lock:
            writer = self._writer(session_id)
            for record in records:
                writer.append(record)
            return writer.path

    def _writer(self, session_id: str) -> SessionLogWriter:
        writer = self._writers.get(session_id)
        if writer is not None:
            self._writers.move_to_end(session_id)
            return writer
        session = Session(id=session_id, domain=self.domain, created=utc_now(), meta={"source": SOURCE})
        writer = SessionLogWriter.for_session(self.path(session_id), session)
        self._writers[session_id] = writer
        while len(self._writers) > self.max_open:
            _, oldest = self._writers.popitem(last=False)
            oldest.close()
        return writer

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                writer.close()
            self._writers.clear()


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
