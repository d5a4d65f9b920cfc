"""``addon[:FOLDER]``: the session logs the NEP Blender add-on records (default ``$NEP_HOME/logs/blender``).

Logs are read like any session log (a bad line is reported as ``file:line: reason`` and skipped). An
operator call this Blender cannot run, an unknown operator or property or an ill-typed value, is
counted, reported and dropped from its session; the rest of the session is kept.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable

from nep_core.app_logs import app_log_folder
from nep_core.collector import Collector, CollectReport, LogCollector
from nep_core.errors import InvalidAction, NepError
from nep_core.session import Session


class AddonLogCollector(Collector):
    name = "addon"
    description = "session logs recorded by the NEP Blender add-on; ARGUMENT is their folder (default $NEP_HOME/logs/blender)"

    def __init__(self, action_space):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        folder = Path(argument).expanduser() if argument else app_log_folder("blender")
        if not folder.exists():
            raise NepError(f"addon: no session logs at {folder}; set the add-on's log folder, or pass addon:FOLDER")
        for session in LogCollector("blender").collect(str(folder), report, seed):
            yield replace(session, events=[event for event in session.events if self._keep(event, session, report)])

    def _keep(self, event, session: Session, report: CollectReport) -> bool:
        if event.action is None:
            return True
        try:
            self.action_space.encode(event.action)
        except InvalidAction as error:
            report.count("actions this Blender cannot run (skipped)")
            report.warn(f"session {session.id} at t={event.t}: skipped {event.action.kind}: {error}")
            return False
        return True
