"""``krita[:FOLDER]``: the session logs the NEP Krita plugin records, merged with ``nep serve``'s feedback logs.

With no FOLDER it reads ``$NEP_HOME/logs/krita`` (what the plugin records) and
``$NEP_HOME/feedback/krita`` (what ``nep serve --domain krita`` appends); a session in both keeps
the plugin's events and gains the server's feedback records. A bad log line is reported as
``file:line: reason`` and skipped (a torn last line, after a crash, too). A malformed stroke
(``Stroke.from_action`` refuses it: fewer than two points, NaN or out-of-range pressure, a bad
colour) or a malformed layer, brush, colour, size, opacity or eraser action is counted, reported
with its ``file:line`` and dropped; so is a stroke wholly off the canvas. A stroke partly off the
canvas is kept (the action space pulls it onto the edge) and counted.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from nep_core.collector import Collector, CollectReport
from nep_core.errors import InvalidAction, LogFormatError, NepError
from nep_core.session import Event, Session
from nep_core.sessionlog import ReadReport, log_files, parse_event, read_session
from nep_krita.strokes import STROKE_KIND, Stroke


def default_folders() -> list[Path]:
    from nep_core.dataset import nep_home

    return [nep_home() / "logs" / "krita", nep_home() / "feedback" / "krita"]


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


class KritaLogCollector(Collector):
    name = "krita"
    description = "session logs of the NEP Krita plugin and nep serve feedback; ARGUMENT is their folder (default $NEP_HOME/logs/krita and $NEP_HOME/feedback/krita)"

    def __init__(self, action_space=None):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        folders = [Path(argument).expanduser()] if argument else [folder for folder in default_folders() if folder.exists()]
        if not folders or not folders[0].exists():
            where = argument or " or ".join(str(folder) for folder in default_folders())
            raise NepError(f"krita: no session logs at {where}; record some with the NEP Krita plugin, or pass krita:FOLDER")
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
            report.count("strokes", sum(event.action is not None and event.action.kind == STROKE_KIND for event in session.events))
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
            if session.domain != "krita":
                report.count("logs of another domain (skipped)")
                report.warn(f"{path}:1: session of domain '{session.domain}', not 'krita'; file skipped")
                continue
            yield self.check_actions(session, path, report)

    def check_actions(self, session: Session, path: Path, report: CollectReport) -> Session:
        """``session`` without its malformed actions and its strokes wholly off the canvas, each reported as ``file:line``."""
        numbers = event_lines(path)
        canvas: tuple[float, float] | None = None
        kept: list[Event] = []
        for index, event in enumerate(session.events):
            where = f"{path}:{numbers[index] if index < len(numbers) else '?'}"
            if event.state is not None:
                canvas = canvas_size(event.state) or canvas
            action = event.action
            if action is None:
                kept.append(event)
                continue
            if action.kind == STROKE_KIND:
                try:
                    stroke = Stroke.from_action(action)
                except ValueError as error:
                    report.count("malformed strokes (dropped)")
                    report.warn(f"{where}: {error}; stroke dropped")
                    continue
                if canvas is not None and not stroke.on_canvas(*canvas):
                    if not touches_canvas(stroke, *canvas):
                        report.count("strokes off the canvas (dropped)")
                        report.warn(f"{where}: action.args.points: the stroke lies wholly off the {canvas[0]:g}x{canvas[1]:g} canvas; stroke dropped")
                        continue
                    report.count("strokes partly off the canvas (kept)")
            elif self.action_space is not None:
                try:
                    self.action_space.encode(action)
                except InvalidAction as error:
                    report.count("malformed or unknown actions (dropped)")
                    report.warn(f"{where}: action {action.kind}: {error}; action dropped")
                    continue
            kept.append(event)
        return replace(session, events=kept, meta={"source": "krita", **session.meta})


def canvas_size(state) -> tuple[float, float] | None:
    """``(width, height)`` of a state event's ``canvas``, when it gives two positive numbers."""
    canvas = state.get("canvas")
    if not isinstance(canvas, dict):
        return None
    width, height = canvas.get("width"), canvas.get("height")
    if all(isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 for value in (width, height)):
        return float(width), float(height)
    return None


def touches_canvas(stroke: Stroke, width: float, height: float) -> bool:
    """Whether any point, or the box the stroke spans, meets the canvas."""
    x0, y0, x1, y1 = stroke.bounds()
    return x1 >= 0 and y1 >= 0 and x0 <= width and y0 <= height


def merge_feedback(recorded: Session, server: Session) -> Session:
    """The plugin's session with the server's feedback records added, in time order."""
    known = {json.dumps(event.to_json(), sort_keys=True) for event in recorded.events}
    extra = [event for event in server.events if event.feedback is not None and json.dumps(event.to_json(), sort_keys=True) not in known]
    return replace(recorded, events=sorted([*recorded.events, *extra], key=lambda event: event.t))
