"""``editor[:FOLDER]``: session logs of the NEP editor client, merged with ``nep serve``'s feedback logs.

With no FOLDER it reads ``$NEP_HOME/logs/code`` (what the Neovim plugin records) and
``$NEP_HOME/feedback/code`` (what ``nep serve --domain code`` appends); a session in both keeps the
editor's events and gains the server's feedback records. A bad log line is reported as
``file:line: reason`` and skipped; an ``edit`` action with a malformed payload, or one that does not
apply to the files the session knows (a file no state event snapshotted among them), is counted, reported with
its ``file:line`` and dropped. The Neovim client records text as the buffer holds it: no byte order mark (the
``bomb`` option), as the ``git`` collector also drops it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from nep_core.app_logs import AppLogCollector
from nep_core.collector import CollectReport
from nep_core.session import Event, Session
from nep_code.edits import EDIT_KIND, LineEdit, Workspace
from nep_code.private_files import is_private


class EditorLogCollector(AppLogCollector):
    name = "editor"
    description = "session logs of the NEP editor client and nep serve feedback; ARGUMENT is their folder (default $NEP_HOME/logs/code and $NEP_HOME/feedback/code)"
    domain = "code"
    recorder = "the editor client"
    counted = ("edits", EDIT_KIND)

    def check(self, session: Session, located: list[tuple[str, Event]], report: CollectReport) -> Session:
        """``session`` without its malformed edits and the edits that do not apply, each reported as ``file:line``,
        and without files that may hold secrets (``private_files``; logs of clients that recorded them)."""
        workspace, kept = Workspace(), []
        for where, event in located:
            event = without_private_files(event, report)
            if event is None:
                continue
            if event.state is not None:
                workspace.apply_state(event.state)
            if event.action is not None and event.action.kind == EDIT_KIND:
                try:
                    edit = LineEdit.from_action(event.action)
                except ValueError as error:
                    report.count("malformed edits (dropped)")
                    report.warn(f"{where}: {error}; edit dropped")
                    continue
                if edit.file not in workspace.files:
                    report.count("edits to files the session never snapshotted (dropped)")
                    report.warn(f"{where}: action.target.file: no state event of the session holds {edit.file!r}; edit dropped")
                    continue
                try:
                    workspace.apply_edit(edit)
                except ValueError as error:
                    report.count("edits that do not apply (dropped)")
                    report.warn(f"{where}: action.target.line: {error}; edit dropped")
                    continue
            kept.append(event)
        return replace(session, events=kept, meta={"source": "editor", **session.meta})



def without_private_files(event: Event, report: CollectReport) -> Event | None:
    """``event`` without the files that may hold secrets (``is_private``): a state's snapshots of them and a cursor
    in one are left out, an action on one is dropped (None); each counted."""
    action, state = event.action, event.state
    if action is not None:
        target = action.target if isinstance(action.target, Mapping) else {}
        if isinstance(target.get("file"), str) and is_private(target["file"]):
            report.count("actions on files that may hold secrets (dropped)")
            return None
        return event
    if state is None:
        return event
    files = state.get("files")
    private = [path for path in (files if isinstance(files, Mapping) else {}) if isinstance(path, str) and is_private(path)]
    cursor = state.get("cursor")
    in_private = isinstance(cursor, Mapping) and isinstance(cursor.get("file"), str) and is_private(cursor["file"])
    if not private and not in_private:
        return event
    report.count("snapshots of files that may hold secrets (left out)", len(private))
    kept = {**state, "files": {path: text for path, text in files.items() if path not in private}} if private else dict(state)
    if in_private:
        kept.pop("cursor")
    return replace(event, state=kept)
