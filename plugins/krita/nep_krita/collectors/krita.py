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

from dataclasses import replace

from nep_core.app_logs import AppLogCollector
from nep_core.collector import CollectReport
from nep_core.errors import InvalidAction
from nep_core.session import Event, Session
from nep_krita.action_space import canvas_in_state
from nep_krita.strokes import STROKE_KIND, Stroke


class KritaLogCollector(AppLogCollector):
    name = "krita"
    description = "session logs of the NEP Krita plugin and nep serve feedback; ARGUMENT is their folder (default $NEP_HOME/logs/krita and $NEP_HOME/feedback/krita)"
    domain = "krita"
    recorder = "the NEP Krita plugin"
    counted = ("strokes", STROKE_KIND)

    def check(self, session: Session, located: list[tuple[str, Event]], report: CollectReport) -> Session:
        """``session`` without its malformed actions and its strokes wholly off the canvas, each reported as ``file:line``."""
        canvas: tuple[float, float] | None = None
        kept: list[Event] = []
        for where, event in located:
            if event.state is not None:
                canvas = canvas_in_state(event.state) or canvas
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


def touches_canvas(stroke: Stroke, width: float, height: float) -> bool:
    """Whether any point, or the box the stroke spans, meets the canvas."""
    x0, y0, x1, y1 = stroke.bounds()
    return x1 >= 0 and y1 >= 0 and x0 <= width and y0 <= height

