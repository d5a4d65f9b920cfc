"""``addon[:FOLDER]``: the session logs the NEP Blender add-on records (default ``$NEP_HOME/logs/blender``).

Logs are read like any session log (a bad line is reported as ``file:line: reason`` and skipped). An
operator call this Blender cannot run, an unknown operator or property or an ill-typed value, is
counted, reported with its ``file:line`` and dropped from its session; the rest of the session is
kept. A whole number logged as a float for an integer property (``number_cuts: 3.0``) is kept as an
integer, as bpy takes it. A call that reaches outside the scene or bakes to disk (``image.save``,
``ptcache.bake_all``: ``bpy_calls.outside_reason``) is kept as context, a non-edit, even where an
older add-on logged it as an edit, so it is never a training target.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable

from nep_core.app_logs import AppLogCollector, app_log_folder, is_second_log
from nep_core.collector import CollectReport
from nep_core.errors import InvalidAction, NepError
from nep_core.session import Event, Session
from nep_blender.bpy_calls import outside_reason
from nep_blender.collectors import capped, with_int_values


class AddonLogCollector(AppLogCollector):
    name = "addon"
    description = "session logs recorded by the NEP Blender add-on; ARGUMENT is their folder (default $NEP_HOME/logs/blender)"
    domain = "blender"
    recorder = "the NEP Blender add-on"

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        folder = Path(argument).expanduser() if argument else app_log_folder("blender")
        if not folder.exists():
            raise NepError(f"addon: no session logs at {folder}; set the add-on's log folder, or pass addon:FOLDER")
        files: dict[str, Path] = {}
        for path, session, located in self.read_located(folder, report):
            if is_second_log(files, path, session.id, report):
                continue
            report.count("sessions")
            yield self.check(session, located, report)

    def check(self, session: Session, located: list[tuple[str, Event]], report: CollectReport) -> Session:
        """``session`` without the calls this Blender cannot run, each reported as ``file:line``."""
        kept = []
        for where, event in located:
            action = event.action
            if action is not None:
                spec = self.action_space.registry.get(action.kind)
                try:
                    self.action_space.encode(action)
                except InvalidAction as error:
                    field = "action.kind" if spec is None else "action.args"
                    report.count("actions this Blender cannot run (skipped)")
                    report.warn(f'{where}: field "{field}" of {capped(action.kind)}: {capped(str(error))}; action skipped')
                    continue
                whole = with_int_values(action, spec)
                if whole.edit and outside_reason(whole.kind):
                    report.count("calls outside the scene logged as edits (read as non-edits)")
                    whole = replace(whole, edit=False)  # an older add-on logged it as an edit
                if whole is not action:
                    event = replace(event, action=whole)
            kept.append(event)
        return replace(session, events=kept)
