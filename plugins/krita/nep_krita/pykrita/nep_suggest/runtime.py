"""The plugin at run time: records strokes and brush changes, asks ``nep serve``, previews, accepts.

Everything here runs on Qt's main thread; the network is the client's worker thread, and ``tick``
(a QTimer, every ``TICK_MS``) collects its answers. An answer is used only if it was asked for the
history as it is now (``generation``); older ones are dropped. Accept checks the suggestion
(``checks.check_action``) before it touches the document, paints a stroke with the current brush
(``painter.paint_stroke``) and runs a discrete action through the workspace; every outcome
(accepted, dismissed, refused, ignored) goes to the session log and the server. With *Record* off
nothing is written: no session log, and no feedback request (``nep serve`` stores what feedback
carries); suggestion requests still carry the newest events, which the server needs to predict and
does not store. Each request is cut to fit ``client.MAX_REQUEST_BYTES``.
"""

import os

from . import checks, painter
from .client import ServerClient, check_suggestions
from .feedback import FeedbackMixin
from .ghost import Ghost
from .recorder import BrushWatcher, StrokeBuilder, stroke_action
from .sessionlog import SessionLog, new_session_id, utc_now
from .strokes import Stroke

VERSION = "0.1.0"
TICK_MS = 250
HISTORY_EVENTS = 64
"""Newest events sent with each suggestion request (fewer where they would not fit ``client.MAX_REQUEST_BYTES``)."""
SUGGESTIONS_ASKED = 1
"""The docker previews one ghost stroke, so it asks the server for the best suggestion only (a
search for three strokes costs the server about four times as much)."""
REQUEST_TIMEOUT = 2.0
"""Seconds the worker thread waits for the server; painting never waits."""
RETRY_SECONDS = 5.0
PAUSED_SESSIONS = 16
"""Sessions of documents that are not active now, kept to go on with (the oldest are let go)."""


class Runtime(FeedbackMixin):
    """One painting session at a time: its log, its events, the suggestion shown (feedback: FeedbackMixin)."""

    def __init__(self, settings, clock, app_name="Krita"):
        self.settings = settings
        self.clock = clock  # seconds, monotonic
        self.app_name = app_name
        self.client = None
        self.workspace = None
        self.ghost = Ghost()
        self.builder = StrokeBuilder()
        self.watcher = BrushWatcher()
        self.listeners = []
        self.status, self.message, self.outcome = "starting", "", ""
        self.skipped = {}
        self.stale_answers = 0
        self.feedback_sent = 0
        self._log = None
        self.session_id = None  # no session until a document is active (start)
        self._document_key = None
        self._paused = {}  # document key -> the session it had when another document became active
        self.started = clock()
        self.events = []
        self.generation = self.sent_upto = 0
        self.private_upto = 0  # events before it include some recorded with Record off: never sent with feedback
        self.asked_generation, self.asked_at = None, -RETRY_SECONDS
        self.suggestion = None
        self.hidden = 0  # suggestions in the last answer below the painter's minimum confidence or probability
        self.accepting = False  # Accept runs Krita actions (undo) whose signals must not be logged as the painter's
        self.listener_errors = 0  # exceptions of listeners (the dockers' refresh), caught: never raised to Krita
        self._log_missed = False  # events went unwritten (Record off): the log gets a state event before the next

    # Sessions ---------------------------------------------------------------------------------

    def start(self, workspace, document_key=None):
        """The session of ``workspace``, whose document became active: a new one, or, for a document
        (``document_key``) painted in before another became active, the session it had, which goes
        on from its state now (a painter goes back and forth between a painting and a reference). A suggestion
        still shown in the session left behind is passed over: ``ignored``."""
        if self.suggestion is not None and self.workspace is not None:
            self.pass_over(self.now())
        self.close_log()
        self.ghost.clear()
        if self.workspace is not None and self._document_key is not None:
            self._paused[self._document_key] = (self.session_id, self.started, self.events, self.generation, self.sent_upto,
                                                self.private_upto)
            while len(self._paused) > PAUSED_SESSIONS:
                self._paused.pop(next(iter(self._paused)))
        self.workspace, self._document_key = workspace, document_key
        resumed = self._paused.pop(document_key, None) if document_key is not None else None
        if resumed is not None:
            self.session_id, self.started, self.events, self.generation, self.sent_upto, self.private_upto = resumed
            self.generation += 1  # an answer asked for before the switch is stale
        else:
            self.session_id = new_session_id("krita")
            self.started = self.clock()
            self.events = []
            self.generation = 0
            self.sent_upto = self.private_upto = 0
        self.asked_generation = None
        self.asked_at = -RETRY_SECONDS
        self.suggestion = None
        self.builder.cancel()
        self.watcher.reset(workspace.look())
        self._add({"t": 0.0 if resumed is None else self.now(), "state": workspace.state()})
        self.notify()

    def now(self):
        return round(self.clock() - self.started, 3)

    def header(self):
        meta = {"app": self.app_name, "source": "krita-plugin", "plugin": VERSION}
        name = self.workspace.document.fileName() if self.workspace is not None else ""
        if name:
            meta["document"] = name.replace("\\", "/").rsplit("/", 1)[-1]
        return {"nep": 1, "domain": "krita", "session": self.session_id, "created": utc_now(), "meta": meta}

    def log_path(self):
        return os.path.join(self.settings.logs(), f"{self.session_id}.jsonl")

    def write(self, record):
        """Append ``record`` to the session log, when Record is on; after records that Record off left out, a
        ``state`` event first (the canvas size and brush), as at the start of a session."""
        if self.session_id is None:
            return
        if not self.settings.record:
            self._log_missed = True
            return
        if self._log_missed and "state" not in record:
            self._append({"t": record["t"], "state": self.workspace.state()})
        self._log_missed = False
        self._append(record)

    def _append(self, record):
        path = self.log_path()
        if self._log is None or self._log.path != path:
            self.close_log()
            self._log = SessionLog(path, self.header())
        try:
            self._log.append(record)
        except (OSError, ValueError) as error:
            self.message = f"cannot write the session log {path}: {error}"

    def _add(self, event):
        self.events.append(event)
        self.generation += 1
        self.write(event)
        if not self.settings.record:
            self.private_upto = self.sent_upto = len(self.events)  # never to go to the server's feedback log
        return len(self.events) - 1

    def send_feedback(self, *args, **kwargs):
        """FeedbackMixin's, with Record on only: ``nep serve`` writes what feedback carries to its feedback log."""
        if self.settings.record:
            super().send_feedback(*args, **kwargs)

    def feedback_result(self, result):
        """FeedbackMixin's; events of a failed request go again, unless Record was off since they were recorded."""
        failed = super().feedback_result(result)
        self.sent_upto = max(self.sent_upto, self.private_upto)
        return failed

    def close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    # Recording --------------------------------------------------------------------------------

    def on_sample(self, phase, x, y, pressure, ms):
        """A painting sample (canvas_events); a release records the stroke. The ghost is hidden while the painter
        paints, and shown again after a press that was no stroke (a click)."""
        if self.workspace is None:
            return
        if phase == "press":
            self.builder.press(x, y, pressure, ms)
            self.ghost.clear()
        elif phase == "move":
            self.builder.move(x, y, pressure, ms)
        else:
            points = self.builder.release(x, y, pressure, ms)
            if points:
                self.record_stroke(points)

    def record_stroke(self, points):
        self.look_at_brush()
        action, why = stroke_action(points, self.workspace.look(), self.workspace.canvas())
        if action is None:
            self.skipped[why] = self.skipped.get(why, 0) + 1
            self._show_ghost()
            self.notify()
            return
        self.record_user_action(action)

    def look_at_brush(self):
        for action in self.watcher.look(self.workspace.look()):
            self.record_user_action(action)

    def record_user_action(self, action):
        """Log what the painter did; a suggestion they passed over gets ``ignored`` feedback."""
        if self.accepting:
            return
        t = self.now()
        shown = self.suggestion
        if shown is not None:
            self.write_feedback(t, shown, False, "ignored")
        index = self._add({"t": t, "action": action})
        if shown is not None:
            self.send_feedback(t, shown, False, "ignored", actual=index)
            self.suggestion = None
            self.ghost.clear()
        self.notify()

    def pass_over(self, t):
        """The suggestion shown is ``ignored``: the painter went on without it (to another document)."""
        shown = self.suggestion
        self.write_feedback(t, shown, False, "ignored")
        self.send_feedback(t, shown, False, "ignored")
        self.suggestion = None
        self.ghost.clear()

    # The timer --------------------------------------------------------------------------------

    def tick(self):
        if self.workspace is None:
            return
        if self.builder.active:
            return  # never ask or repaint while the painter is drawing
        self.look_at_brush()
        self._configure()
        changed = self._collect()
        if self.settings.enabled:
            self._ask()
        elif self.status != "off":
            self.status, changed = "off", True
            self._set_suggestion(None)
        if changed:
            self.notify()

    def _configure(self):
        if self.client is None:
            self.client = ServerClient(self.settings.server_url, self.settings.token, timeout=REQUEST_TIMEOUT, thread_name="nep-krita-client")
        elif (self.client.url, self.client.token) != (self.settings.server_url, self.settings.token):
            self.client.configure(self.settings.server_url, self.settings.token)
            self.asked_generation = None

    def _ask(self):
        retry = self.status in ("unreachable", "error") and self.clock() - self.asked_at > RETRY_SECONDS
        if self.asked_generation == self.generation and not retry:
            return
        payload = {"session": self.session_id, "history": self.events[-HISTORY_EVENTS:], "state": self.workspace.state(), "top_k": SUGGESTIONS_ASKED}
        self.client.submit({"kind": "suggest", "generation": (self.session_id, self.generation), "payload": payload})
        self.asked_generation, self.asked_at = self.generation, self.clock()
        if self.status not in ("unreachable", "error"):
            self.status = "waiting"

    def _collect(self):
        changed = False
        for result in self.client.results():
            if result.kind == "feedback":
                changed |= self.feedback_result(result)
                continue
            changed = True
            current = result.generation == (self.session_id, self.generation)
            if not result.ok:
                self.status = "error" if result.reachable else "unreachable"
                self.message = ("NEP server not reachable at " + self.settings.server_url + f" ({result.error}); start it with: nep serve --domain krita --model ngram"
                                if not result.reachable else result.error)
                if current:
                    self._set_suggestion(None)
                continue
            if not current:
                self.stale_answers += 1
                continue
            try:
                suggestions = check_suggestions(result.body)
            except ValueError as error:
                self.status, self.message = "error", str(error)
                self._set_suggestion(None)
                continue
            self.status, self.message = "ok", ""
            if result.body.get("best_is_no_edit") is True:
                suggestions = []
            confident = [item for item in suggestions if item["confidence"] >= self.settings.min_confidence
                         and item["probability"] >= self.settings.min_stroke_probability]
            best = confident[0] if confident else None
            if best is not None:
                request_id = result.body.get("request_id")
                action = checks.known_part(best["action"])
                best = dict(best, action=action, label=checks.label(action, erasing=self.erasing()), shown_at=self.now(),
                            request_id=request_id if isinstance(request_id, str) else None)
            self._set_suggestion(best, hidden=len(suggestions) - len(confident))
        return changed

    def _set_suggestion(self, suggestion, hidden=0):
        self.suggestion = suggestion
        self.hidden = hidden
        self._show_ghost()

    def _show_ghost(self):
        """The ghost of the suggestion shown, if it is a stroke Accept may paint (else none)."""
        stroke, _ = checks.check_action(self.suggestion["action"], self.workspace.canvas()) if self.suggestion else (None, "")
        if stroke is None:
            self.ghost.clear()
        else:
            self.ghost.show(self._as_painted(stroke), erasing=self.erasing())

    def erasing(self):
        """Whether Krita's eraser mode is on: a stroke then erases."""
        return bool(self.workspace.look().get("eraser"))

    def _as_painted(self, stroke):
        """``stroke`` as Accept would paint it now: with the current brush, colour, size and opacity, at the pressure
        Krita paints a script's stroke with; the ghost shows exactly this."""
        look = self.workspace.look()
        color = look.get("color") or stroke.color
        size = float(look.get("size") or stroke.size)
        opacity = look.get("opacity")
        current = Stroke(stroke.points, look.get("brush") or stroke.brush, color, size, stroke.opacity if opacity is None else float(opacity))
        return painter.as_accept_paints(current)

    # Accept and Dismiss -----------------------------------------------------------------------

    def accept(self):
        """Run the suggestion shown: ``(True, message)``, or ``(False, why)`` when refused."""
        suggestion = self.suggestion
        if suggestion is None or self.workspace is None:
            return False, "no suggestion to accept"
        return self.accept_action(suggestion)

    def accept_action(self, suggestion):
        self.accepting = True
        try:
            return self._accept(suggestion)
        finally:
            self.accepting = False

    def _accept(self, suggestion):
        action = suggestion["action"]
        canvas = self.workspace.canvas()
        stroke, why = checks.check_action(action, canvas)
        if why:
            return self._refuse(suggestion, why)
        self.ghost.clear()
        if stroke is not None:
            node = self.workspace.active_node()
            if node is None or node.type() != "paintlayer":
                return self._refuse(suggestion, "stroke: the active layer is not a paint layer")
            why = painter.why_not_paintable(node)
            if why:
                return self._refuse(suggestion, f"stroke: {why}")
            stroke = self._as_painted(stroke)
            ok, how, layer = painter.paint_stroke(self.workspace.document, node, stroke, canvas, erasing=self.erasing())
            if not ok:
                return self._refuse(suggestion, how)
            self.workspace.set_active(layer)
            self.workspace.document.refreshProjection()
            done = checks.known_part(dict(action, args=dict(action["args"], color=stroke.color, size=stroke.size, opacity=stroke.opacity,
                                                            brush=stroke.brush)))
        else:
            ok, why = self.workspace.apply(action)
            if not ok:
                return self._refuse(suggestion, why)
            done = checks.known_part(action)
        self.watcher.reset(self.workspace.look())  # the change is logged as the accepted action, not again as a user change
        t = self.now()
        self.write_feedback(t, suggestion, True, "accepted")
        index = self._add({"t": t, "action": done})
        self.send_feedback(t, suggestion, True, "accepted", actual=index)
        self.suggestion = None
        self.outcome = f"Accepted: {suggestion_label(suggestion)}"
        self.notify()
        return True, self.outcome

    def dismiss(self):
        suggestion = self.suggestion
        if suggestion is None:
            return False, "no suggestion to dismiss"
        self._set_suggestion(None)
        t = self.now()
        self.write_feedback(t, suggestion, False, "dismissed")
        self.send_feedback(t, suggestion, False, "dismissed")
        self.outcome = f"Dismissed: {suggestion_label(suggestion)}"
        self.notify()
        return True, self.outcome

    def _refuse(self, suggestion, reason):
        if suggestion is self.suggestion:
            self._set_suggestion(None)
        t = self.now()
        self.write_feedback(t, suggestion, False, "refused", reason)
        self.send_feedback(t, suggestion, False, "refused", reason)
        self.outcome = f"Refused: {reason}"
        self.notify()
        return False, self.outcome

    # Listeners --------------------------------------------------------------------------------

    def refresh(self):
        """Ask again now (after starting the server)."""
        self.asked_generation = None
        self.status = "waiting"

    def notify(self):
        """Call the listeners; one whose Qt object Krita deleted (a closed window's docker) is dropped, and no
        exception reaches Krita (it would come after the change was made, or as Krita's error dialog)."""
        for listener in list(self.listeners):
            try:
                listener()
            except RuntimeError as error:
                if "deleted" not in str(error):
                    self.listener_errors += 1
                elif listener in self.listeners:
                    self.listeners.remove(listener)
            except Exception:
                self.listener_errors += 1

    def close(self):
        self.ghost.clear()
        if self.client is not None:
            self.client.close()
            self.client = None
        self.close_log()


def suggestion_label(suggestion):
    """What the docker calls a suggestion: its label, else one made from its action."""
    action = suggestion.get("action")
    return suggestion.get("label") or (checks.label(action) if isinstance(action, dict) else "?")
