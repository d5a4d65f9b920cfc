"""The JSONL session log: a crash-safe append-only writer and a reader that names bad lines.

Format (one JSON object per line, UTF-8): a header ``{"nep": 1, "domain", "session", "created", "meta"}``,
then events ``{"t": seconds, "action"|"state"|"feedback": ...}``. A writer that reopens a file whose
last line was torn by a crash appends a ``{"recovered": true}`` marker, so the reader knows the line
before it was torn rather than corrupt (``SessionLogWriter``, and the apps' copy of its writer).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from nep_core.actions import Action, is_finite_number
from nep_core.appkit.sessionlog import SessionLog, utc_now  # noqa: F401 (utc_now: part of this module's API)
from nep_core.atomic_files import atomic_path
from nep_core.errors import LogFormatError, NepError
from nep_core.session import Event, Session

FORMAT_VERSION = 1
LOG_SUFFIX = ".jsonl"


def new_session_id() -> str:
    return uuid.uuid4().hex


class SessionLogWriter(SessionLog):
    """Appends records to one session log from any thread, as the apps' writer does (it is
    ``nep_core.appkit.sessionlog.SessionLog``): the file is created with its header on the first
    record, the records of each ``append`` or ``extend`` are fsynced before it returns, and after a
    crash or a failed write the next record starts a new line behind a ``{"recovered": true}`` marker."""

    def __init__(self, path: str | os.PathLike, header: dict[str, Any]):
        super().__init__(Path(path), header)
        self._lock = threading.Lock()

    @classmethod
    def for_session(cls, path: str | os.PathLike, session: Session) -> SessionLogWriter:
        return cls(path, session.header())

    def append(self, record: dict[str, Any] | Event) -> None:
        self.extend([record])

    def extend(self, records: Iterable[dict[str, Any] | Event]) -> None:
        """Append ``records`` in one write and one fsync: all of them, or none (``ValueError``) when one cannot be encoded."""
        records = [record.to_json() if isinstance(record, Event) else record for record in records]
        with self._lock:
            super().extend(records)

    def close(self) -> None:
        with self._lock:
            super().close()

    def __enter__(self) -> SessionLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_session(path: str | os.PathLike, session: Session) -> Path:
    """Write a whole session as a new log, atomically (temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
            for record in [session.header(), *(event.to_json() for event in session.events)]:
                handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n")
    except ValueError:  # NaN or infinity: the log could not be read back
        raise NepError(f"session '{session.id}' (source {session.source}) holds a number that is not finite (NaN or "
                       "infinity), which a session log cannot hold; the collector that made it must refuse such input") from None
    return path


@dataclass
class ReadReport:
    """What a read skipped or tolerated, as ``file:line: reason`` strings."""

    warnings: list[str] = field(default_factory=list)
    skipped_lines: int = 0
    event_lines: list[int] = field(default_factory=list)
    """The line number of each event read, in order (of the last log read with this report)."""


def read_session(path: str | os.PathLike, *, strict: bool = True, report: ReadReport | None = None) -> Session:
    """Read one session log.

    A torn last line (a crash mid-write) is reported in ``report.warnings`` and skipped. Any other
    bad line raises ``LogFormatError("file:line: reason")``, or with ``strict=False`` is reported and skipped.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NepError(f"{path}: no such session log") from None
    except IsADirectoryError:
        raise NepError(f"{path}: is a folder; pass a session log file (.jsonl)") from None
    lines = raw.split(b"\n")
    report.event_lines = []
    skipped_before = report.skipped_lines
    ends_with_newline = raw.endswith(b"\n")
    if ends_with_newline:
        lines.pop()
    session: Session | None = None
    for number, line_bytes in enumerate(lines, start=1):
        is_last = number == len(lines)
        where = f"{path}:{number}"
        if not line_bytes.strip():
            continue
        try:
            record = loads_finite(line_bytes.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("a line must be a JSON object")
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            next_is_marker = not is_last and _marker_follows(lines, number)
            if (is_last and not ends_with_newline) or next_is_marker:
                report.warnings.append(f"{where}: torn line (an interrupted write) skipped")
                report.skipped_lines += 1
                continue
            _bad(where, _json_reason(error), strict, report)
            continue
        if session is None:
            try:
                session = _parse_header(record)
                session.__dict__[_READ_FROM] = where  # not a field: never written back, and copies leave it out
            except ValueError as error:
                if "nep" not in record and "t" in record:  # an event where the header should be
                    raise LogFormatError(
                        f'{where}: no header line: the first line must be {{"nep": 1, "domain": ..., "session": ...}} '
                        "(docs/session-log.md), and this one is an event"
                    ) from None
                raise LogFormatError(f"{where}: bad header: {error}") from None
            continue
        if record.get("recovered") is True:
            continue
        try:
            session.events.append(parse_event(record))
        except ValueError as error:
            _bad(where, str(error), strict, report)
            continue
        report.event_lines.append(number)
    if session is None:
        skipped = report.skipped_lines - skipped_before
        what = f"no header line ({skipped} unreadable lines skipped)" if skipped else "empty log"
        raise LogFormatError(f"{path}:1: {what}; a session log starts with a header line {{\"nep\": 1, ...}}")
    return session


_READ_FROM = "_nep_read_from"


def read_from(session: Session) -> str | None:
    """``FILE:LINE`` of the header line ``read_session`` read ``session`` from; None for a session a collector made."""
    return session.__dict__.get(_READ_FROM)


def _origin(session: Session) -> str:
    where = read_from(session)
    if where is not None:
        return f"read from {where}"
    return "made by a collector" + (f" (source {session.meta['source_id']})" if session.meta.get("source_id") else "")


MAX_TORN_RUN = 8
"""How many lines before a recovery marker may be torn ones: a bound, so that a long corrupt file is read in linear time."""


def _marker_follows(lines: list[bytes], start: int) -> bool:
    """Whether a recovery marker comes after ``lines[start - 1]`` with only a few unreadable or blank
    lines between: those were torn too (a write that failed again while the writer recovered)."""
    for line in lines[start : start + MAX_TORN_RUN]:
        if not line.strip():
            continue
        if _is_recovery_marker(line):
            return True
        try:
            if isinstance(json.loads(line.decode("utf-8")), dict):
                return False
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
    return False


def _is_recovery_marker(line: bytes) -> bool:
    try:
        return json.loads(line.decode("utf-8")).get("recovered") is True
    except (UnicodeDecodeError, ValueError, AttributeError, RecursionError):
        return False


def _not_finite(text: str) -> float:
    raise ValueError(f"{text} in the JSON: a session log holds finite numbers only")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        _not_finite(text)
    return value


def loads_finite(text: str) -> Any:
    """``json.loads``, refusing ``NaN``, ``Infinity`` and numbers too large for a float (``ValueError``)."""
    return json.loads(text, parse_constant=_not_finite, parse_float=_finite_float)


def _json_reason(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at column {error.colno})"
    if isinstance(error, RecursionError):
        return "JSON nested too deeply"
    return str(error)


def _bad(where: str, reason: str, strict: bool, report: ReadReport) -> None:
    if strict:
        raise LogFormatError(f"{where}: {reason}")
    report.warnings.append(f"{where}: {reason}; line skipped")
    report.skipped_lines += 1


def _parse_header(record: dict[str, Any]) -> Session:
    if record.get("nep") != FORMAT_VERSION:
        raise ValueError(f'field "nep" must be {FORMAT_VERSION} (got {record.get("nep")!r})')
    domain = record.get("domain")
    if not isinstance(domain, str) or not domain:
        raise ValueError('field "domain" must be a non-empty string')
    session_id = record.get("session")
    if not isinstance(session_id, str) or not session_id:
        raise ValueError('field "session" must be a non-empty string')
    meta = record.get("meta", {})
    if not isinstance(meta, dict):
        raise ValueError('field "meta" must be an object')
    return Session(id=session_id, domain=domain, created=str(record.get("created", "")), meta=meta)


def parse_event(record: dict[str, Any]) -> Event:
    """One event from its JSON object; ``ValueError`` names the bad field."""
    t = record.get("t")
    if not is_finite_number(t):
        raise ValueError('field "t" must be a finite number of seconds')
    kinds = [key for key in ("action", "state", "feedback") if key in record]
    if len(kinds) != 1:
        raise ValueError('an event has exactly one of "action", "state" or "feedback"')
    if "action" in record:
        try:
            return Event(t=float(t), action=Action.from_json(record["action"]))
        except ValueError as error:
            raise ValueError(f'field "action": {error}') from None
    key = kinds[0]
    if not isinstance(record[key], dict):
        raise ValueError(f'field "{key}" must be an object')
    return Event(t=float(t), **{key: record[key]})


def log_files(folder: str | os.PathLike) -> list[Path]:
    """The session logs in a folder (recursively), sorted for determinism; hidden files and folders
    (a killed ``nep collect``'s ``.nep-collect-*`` staging folder) are not read."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise NepError(f"{folder}: no such folder of session logs")
    return sorted(found_log_files(folder))


def session_id_of(path: Path) -> str | None:
    """The session id in a log's header (its first line), or None where that is no readable header."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(1 << 20)
        return _parse_header(loads_finite(first.decode("utf-8"))).id
    except (OSError, ValueError, RecursionError, AttributeError):  # AttributeError: a first line that is no object
        return None


def found_log_files(folder: Path) -> Iterator[Path]:
    """``log_files``, unsorted and as they are found (the first one comes without walking the whole folder)."""
    return (path for path in folder.rglob(f"*{LOG_SUFFIX}")
            if not any(part.startswith(".") for part in path.relative_to(folder).parts))  # nor staging folders


def read_sessions(
    folder: str | os.PathLike, *, domain: str | None = None, strict: bool = True, report: ReadReport | None = None,
    state_problem: Callable[[Any, str], str | None] | None = None,
) -> Iterator[Session]:
    """Every session log under ``folder``; a file without a readable header, a session of another
    domain, or a state snapshot ``state_problem`` (the domain encoder's) finds unreadable, raises (with
    ``strict=False`` it is reported and the file skipped)."""
    report = report if report is not None else ReadReport()
    for path in log_files(folder):
        try:
            session = read_session(path, strict=strict, report=report)
        except LogFormatError as error:  # no header: nothing in the file can be read as a session
            if strict:
                raise
            report.warnings.append(f"{error}; file skipped")
            continue
        if domain is not None and session.domain != domain:
            message = f"{path}:1: session of domain '{session.domain}', expected '{domain}'"
            if strict:
                raise LogFormatError(message + "; pass --domain " + session.domain + " or remove the file")
            report.warnings.append(message + "; file skipped")
            continue
        problem = None if state_problem is None else first_state_problem(session, report.event_lines, state_problem)
        if problem is not None:
            message = f"{path}:{problem}"
            if strict:
                raise LogFormatError(message)
            report.warnings.append(message + "; file skipped")
            continue
        yield session


def first_state_problem(session: Session, event_lines: list[int], state_problem: Callable[[Any, str], str | None]) -> str | None:
    """``LINE: state.FIELD: reason`` for the first event whose state snapshot the domain cannot read."""
    for event, line in zip(session.events, event_lines):
        problem = None if event.state is None else state_problem(event.state, "state")
        if problem:
            return f"{line}: {problem}"
    return None


MAX_FILE_NAME_BYTES = 200
"""File systems allow 255 bytes a name; the writer's temporary file adds a few."""


def log_file_name(session_id: str) -> str:
    """``<session id>.jsonl``, with the characters Windows or a path cannot hold (``<>:"/\\|?*``) as ``_``;
    an id too long for a file name is cut, with a hash of the whole id so that two ids stay apart."""
    name = re.sub(r'[<>:"/\\|?*\x00-\x1f]', "_", session_id)
    if len((name + LOG_SUFFIX).encode("utf-8")) > MAX_FILE_NAME_BYTES:
        digest = hashlib.sha1(session_id.encode("utf-8")).hexdigest()[:16]
        room = MAX_FILE_NAME_BYTES - len(LOG_SUFFIX) - len(digest) - 1
        name = name.encode("utf-8")[:room].decode("utf-8", errors="ignore") + "-" + digest
    return name + LOG_SUFFIX


def write_sessions(folder: str | os.PathLike, sessions: Iterable[Session]) -> int:
    """Write sessions as ``<folder>/<session id>.jsonl`` (``log_file_name``); returns how many. Two
    sessions with one file name would share a file, the second overwriting the first: that is a
    ``NepError`` naming the id and where each came from (``FILE:LINE`` for a session read from a log)."""
    written: dict[str, str] = {}  # file name: where its session came from
    for session in sessions:
        name = log_file_name(session.id)
        if name in written:
            raise NepError(
                f"two sessions have the id '{session.id}' or ids that make one file name, {name}: the first {written[name]}, "
                f"the second {_origin(session)}; a session's id names its file, so it must be unique: join each set of sessions "
                f"once (a collector run twice with one --seed makes the same ids; `* N` copies get ids of their own), or the "
                f"collector that made them must tell them apart"
            )
        write_session(Path(folder) / name, session)
        written[name] = _origin(session)
    return len(written)
