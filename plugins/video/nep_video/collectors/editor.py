"""``editor[:FOLDER]``: session logs written by editor integrations (``nep video watch``) merged with ``nep serve``'s feedback.

With no FOLDER it reads ``$NEP_HOME/logs/video`` (what ``nep video watch`` records) and
``$NEP_HOME/feedback/video`` (what ``nep serve --domain video`` appends). A bad log line is reported
as ``file:line: reason`` and skipped; an action the video action space cannot write (an unknown
kind, a missing ``target.clip``, a frame count that is not a number) is reported and dropped; so
is a ``state`` whose timeline snapshot is malformed.
"""

from __future__ import annotations

from dataclasses import replace

from nep_core.app_logs import AppLogCollector
from nep_core.collector import CollectReport
from nep_core.errors import InvalidAction, NepError
from nep_core.session import Event, Session
from nep_video.action_space import canonical
from nep_video.snapshot import timeline_from_state


class EditorLogCollector(AppLogCollector):
    name = "editor"
    description = "session logs of `nep video watch` and editor integrations, with nep serve feedback; ARGUMENT is their folder (default $NEP_HOME/logs/video and $NEP_HOME/feedback/video)"
    domain = "video"
    recorder = "`nep video watch PROJECT --log`"
    counted = ("trims", "trim_in")

    def check(self, session: Session, located: list[tuple[str, Event]], report: CollectReport) -> Session:
        kept: list[Event] = []
        for where, event in located:
            if event.state is not None and "timeline" in event.state:
                try:
                    timeline_from_state(event.state)
                except NepError as error:
                    report.count("malformed timeline snapshots (dropped)")
                    report.warn(f"{where}: {error}; snapshot dropped")
                    continue
            if event.action is not None:
                try:
                    canonical(event.action)
                except InvalidAction as error:
                    report.count("malformed or unknown actions (dropped)")
                    report.warn(f"{where}: action {event.action.kind}: {error}; action dropped")
                    continue
            kept.append(event)
        return replace(session, events=kept, meta={"source": "editor", **session.meta})
