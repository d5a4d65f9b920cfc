"""``editor[:FOLDER]``: session logs of the NEP editor client, merged with ``nep serve``'s feedback logs.

With no FOLDER it reads ``$NEP_HOME/logs/code`` (what the Neovim plugin records) and
``$NEP_HOME/feedback/code`` (what ``nep serve --domain code`` appends); a session in both keeps the
editor's events and gains the server's feedback records. A bad log line is reported as
``file:line: reason`` and skipped; an ``edit`` action with a malformed payload, or one that does not
apply to the files the session knows, is counted, reported with its ``file:line`` and dropped.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from nep_core.collector import Collector, CollectReport
from nep_core.errors import LogFormatError, NepError
from nep_core.session import Session
from nep_core.sessionlog import ReadReport, log_files, parse_event, read_session
from nep_code.edits import EDIT_KIND, LineEdit, Workspace


def default_folders() -> list[Path]:
    from nep_core.dataset import nep_home

    return [nep_home() / "logs" / "code", nep_home() / "feedback" / "code"]


def event_lines(path: Path) -> list[int]:
    """The line number of each event ``read_session`` keeps from ``path``, in order."""
    numbers, header_seen = [], False
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if not isinstance(record, dict):
            continue
        if not header_seen:
            header_seen = True
            continue
        if record.get("recovered") is True:
            continue
        try:
            parse_event(record)
        except ValueError:
            continue
        numbers.append(number)
    return numbers


class EditorLogCollector(Collector):
    name = "editor"
    description = "session logs of the NEP editor client and nep serve feedback; ARGUMENT is their folder (default $NEP_HOME/logs/code and $NEP_HOME/feedback/code)"

    def __init__(self, action_space=None):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        folders = [Path(argument).expanduser()] if argument else [folder for folder in default_folders() if folder.exists()]
        if not folders or not folders[0].exists():
            where = argument or " or ".join(str(folder) for folder in default_folders())
            raise NepError(f"editor: no session logs at {where}; record some with the editor client, or pass editor:FOLDER")
        sessions: dict[str, Session] = {}
        for folder in folders:
            for session in self._read(folder, report):
                if session.id in sessions:
                    report.count("sessions also in the feedback logs (merged)")
                    sessions[session.id] = merge_feedback(sessions[session.id], session)
                else:
                    sessions[session.id] = session
        for session in sessions.values():
            report.count("sessions")
            report.count("edits", sum(event.action is not None and event.action.kind == EDIT_KIND for event in session.events))
            yield session

    def _read(self, folder: Path, report: CollectReport) -> Iterable[Session]:
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
            if session.domain != "code":
                report.count("logs of another domain (skipped)")
                report.warn(f"{path}:1: session of domain '{session.domain}', not 'code'; file skipped")
                continue
            yield check_edits(session, path, report)


def check_edits(session: Session, path: Path, report: CollectReport) -> Session:
    """``session`` without its malformed edits and the edits that do not apply, each reported as ``file:line``."""
    numbers = event_lines(path)
    workspace, kept = Workspace(), []
    for index, event in enumerate(session.events):
        where = f"{path}:{numbers[index] if index < len(numbers) else '?'}"
        if event.state is not None:
            workspace.apply_state(event.state)
        if event.action is not None and event.action.kind == EDIT_KIND:
            try:
                edit = LineEdit.from_action(event.action)
            except ValueError as error:
                report.count("malformed edits (dropped)")
                report.warn(f"{where}: {error}; edit dropped")
                continue
            try:
                workspace.apply_edit(edit)
            except ValueError as error:
                report.count("edits that do not apply (dropped)")
                report.warn(f"{where}: action.target.line: {error}; edit dropped")
                continue
        kept.append(event)
    return replace(session, events=kept, meta={"source": "editor", **session.meta})


def merge_feedback(editor: Session, server: Session) -> Session:
    """The editor's session with the server's feedback records added, in time order."""
    known = {json.dumps(event.to_json(), sort_keys=True) for event in editor.events}
    extra = [event for event in server.events if event.feedback is not None and json.dumps(event.to_json(), sort_keys=True) not in known]
    events = sorted([*editor.events, *extra], key=lambda event: event.t)
    return replace(editor, events=events)

