"""App session logs: what an app's NEP client records, merged with ``nep serve``'s feedback logs.

An app client (the Blender add-on, the Krita plugin, the editor client) records sessions under
``$NEP_HOME/logs/<domain>``; ``nep serve --domain <domain>`` appends the suggestions it showed, and
what became of them, under ``$NEP_HOME/feedback/<domain>``. :class:`AppLogCollector` reads both: a
session in both keeps the app's events and gains the server's feedback records, in whichever order
they are read (a copy of ``$NEP_HOME`` as FOLDER holds both); a second app log of one session is
reported and skipped. A bad log line is
reported as ``file:line: reason`` and skipped; a log that cannot be read, or that belongs to another
domain, is counted, reported and skipped. A domain's subclass checks each session's actions, once
merged, in :meth:`AppLogCollector.check`, reporting a bad one with the ``file:line`` it is given.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from nep_core.collector import Collector, CollectReport
from nep_core.errors import LogFormatError, NepError
from nep_core.session import Event, Session
from nep_core.sessionlog import ReadReport, log_files, read_session


def app_log_folder(domain: str) -> Path:
    """Where the app clients of ``domain`` record their session logs: ``$NEP_HOME/logs/<domain>``."""
    from nep_core.dataset import nep_home

    return nep_home() / "logs" / domain


def default_folders(domain: str) -> list[Path]:
    """The app's session logs and ``nep serve``'s feedback logs of ``domain``, in that order."""
    from nep_core.dataset import nep_home

    return [app_log_folder(domain), nep_home() / "feedback" / domain]


def located_events(session: Session, path: Path, lines: list[int]) -> list[tuple[str, Event]]:
    """Each event of ``session`` with its ``file:line``, from the line numbers its read gave
    (``ReadReport.event_lines``); ``file:?`` where a line is unknown."""
    return [(f"{path}:{lines[index] if index < len(lines) else '?'}", event) for index, event in enumerate(session.events)]


def is_second_log(files: dict[str, Path], path: Path, session_id: str, report: CollectReport) -> bool:
    """Whether the log at ``path`` is a second one of a session a log of the same folder gave (``files``,
    by session id): a copy, or a client's bug; then it is counted and reported, else ``files`` records it."""
    if session_id in files:
        report.count("logs of a session already read (skipped)")
        report.warn(f"{path}:1: session '{session_id}' was read from {files[session_id]} already; file skipped")
        return True
    files[session_id] = path
    return False


def merge_feedback(recorded: list[tuple[str, Event]], server: list[tuple[str, Event]]) -> list[tuple[str, Event]]:
    """The app's located events with the server's feedback records added, in time order (the server's
    copies of the app's actions are left out: the app's own are the record)."""
    known = {json.dumps(event.to_json(), sort_keys=True) for _, event in recorded}
    extra = [(where, event) for where, event in server
             if event.feedback is not None and json.dumps(event.to_json(), sort_keys=True) not in known]
    return sorted([*recorded, *extra], key=lambda located: located[1].t)


def is_server_log(session: Session | None) -> bool:
    """Whether ``session`` was read from ``nep serve``'s feedback logs (its header names the server)."""
    from nep_core.server.feedback import SOURCE

    return session is not None and session.meta.get("source") == SOURCE


class AppLogCollector(Collector):
    """``NAME[:FOLDER]``: an app's session logs, by default merged with ``nep serve``'s feedback logs.

    A subclass sets ``name``, ``description``, ``domain``, ``recorder`` (who records the logs, for
    the error when there are none), ``counted`` (the report's name for the actions it counts per
    session, and their kind) and overrides :meth:`check`.
    """

    domain: str = ""
    recorder: str = "the app's NEP client"
    counted: tuple[str, str] | None = None
    """(name in the report, action kind): the actions of that kind are counted under that name."""

    def __init__(self, action_space=None):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        defaults = default_folders(self.domain)
        folders = [Path(argument).expanduser()] if argument else [folder for folder in defaults if folder.exists()]
        if not folders or not folders[0].exists():
            where = argument or " or ".join(str(folder) for folder in defaults)
            raise NepError(f"{self.name}: no session logs at {where}; record some with {self.recorder}, or pass {self.name}:FOLDER")
        sessions: dict[str, tuple[Session, list[tuple[str, Event]]]] = {}
        for folder in folders:
            files: dict[str, Path] = {}
            for path, session, located in self.read_located(folder, report):
                earlier = sessions.get(session.id)
                if not (is_server_log(session) or is_server_log(earlier and earlier[0])) and is_second_log(files, path, session.id, report):
                    continue
                files[session.id] = path
                if earlier is None:
                    sessions[session.id] = (session, located)
                else:
                    report.count("sessions also in the feedback logs (merged)")
                    app, server = (earlier, (session, located)) if not is_server_log(earlier[0]) or is_server_log(session) else ((session, located), earlier)
                    sessions[session.id] = (app[0], merge_feedback(app[1], server[1]))
        for session, located in sessions.values():
            # checked once merged: the server's copies of the app's actions, never kept, are not reported
            session = self.check(replace(session, events=[event for _, event in located]), located, report)
            report.count("sessions")
            if self.counted is not None:
                name, kind = self.counted
                report.count(name, sum(event.action is not None and event.action.kind == kind for event in session.events))
            yield session

    def read_located(self, folder: Path, report: CollectReport) -> Iterable[tuple[Path, Session, list[tuple[str, Event]]]]:
        """``(log file, session, its events with their file:line)`` for each session of this domain in ``folder``,
        not yet checked; the rest is counted and reported."""
        for path in log_files(folder):
            read_report = ReadReport()
            try:
                session = read_session(path, strict=False, report=read_report)
            except LogFormatError as error:
                report.count("logs that cannot be read (skipped)")
                report.warn(f"{error}; file skipped")
                continue
            if read_report.skipped_lines:
                report.count("bad lines skipped", read_report.skipped_lines)
            report.warnings.extend(read_report.warnings)
            if session.domain != self.domain:
                report.count("logs of another domain (skipped)")
                report.warn(f"{path}:1: session of domain '{session.domain}', not '{self.domain}'; file skipped")
                continue
            yield path, session, located_events(session, path, read_report.event_lines)

    def check(self, session: Session, located: list[tuple[str, Event]], report: CollectReport) -> Session:
        """``session`` less what the domain refuses; ``located`` pairs each event with its ``file:line``
        for the reports."""
        return session
