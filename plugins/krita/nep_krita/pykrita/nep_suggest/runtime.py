"""The plugin at run time: records strokes and brush changes, asks ``nep serve``, previews, accepts.

Everything here runs on Qt's main thread; the network is the client's worker thread, and ``tick``
(a QTimer, every ``TICK_MS``) collects its answers. An answer is used only if it was asked for the
history as it is now (``generation``); older ones are dropped. A suggestion is checked
(``checks.check_action``, and a brush against Krita's presets) as soon as it arrives, and one that fails is
never shown: it is ``refused``, its reason shown and its ``checks.summary`` logged and sent back. Accept checks it again before it
touches the document, paints a stroke with the current brush (``painter.paint_stroke``) and runs a
discrete action through the workspace; every outcome (accepted, dismissed, refused, ignored) goes to
the session log and the server. With *Record* off nothing is written: no session log, and no
feedback request (``nep serve`` stores what feedback carries); suggestion requests still carry the
newest events, which the server needs to predict and does not store. Each request is cut to fit
``client.MAX_REQUEST_BYTES``.

A session log that cannot be written (its folder, a full disk, a record it cannot hold) never stops
the recording: the events stay in memory and go to the server, and ``log_problem`` says why until a
record is written or the *Log folder* setting changes; the docker shows it apart from the server's
status. A new log file (a new session, or another *Log folder*) starts with a ``state`` event.
"""

import os

from . import checks, painter
from .client import BUSY, SLOW, ServerClient, check_suggestions
from .feedback import FeedbackMixin
from .ghost import Ghost
from .recorder import BrushWatcher, StrokeBuilder, stroke_action
from .sessionlog import SessionLog, new_session_id, utc_now
from .settings import start_command
from .strokes import Stroke

VERSION = "0.1.0"
FAILED = ("unreachable", "slow", "busy", "error")
"""Statuses after a failed request: asked again every ``RETRY_SECONDS``."""
TICK_MS = 250
HISTORY_EVENTS = 64
"""Newest events sent with each suggestion request (fewer where they would not fit ``client.MAX_REQUEST_BYTES``)."""
SUGGESTIONS_ASKED = 1
"""The docker previews one ghost stroke, so it asks the server for the best suggestion only (a
search for three strokes costs the server about four times as much)."""
MAX_ANSWER_BYTES = 64 * 1024
"""The longest answer decoded: one stroke of at most ``checks.MAX_POINTS`` points takes under 4 KB, and decoding
holds Python's lock, so painting waits on it (a 4 MB answer stalled Krita for tens of milliseconds)."""
REQUEST_TIMEOUT = 2.0
"""Seconds the worker thread waits for the server; painting never waits."""
RETRY_SECONDS = 5.0
PAUSED_SESSIONS = 16
"""Sessions of documents that are not active now, kept to go on with (the oldest are let go)."""
UNDO_STEP_KINDS = ("stroke", "layer.new")
"""Recorded actions that are a step in Krita's undo history (``nep_krita/action_space.py``'s)."""
MAX_UNDO_STEPS = 1000
"""Krita's undo steps followed (``Runtime.done``), and steps undone that Redo could bring back (``Runtime.undone``)."""
NOT_FOLLOWED = "not followed"
"""An undone step made before the session's first (or more than ``MAX_UNDO_STEPS`` ago): its Redo is not logged."""
MERGED_DOWN = "merged down"
"""The *Merge Down* step of an Accept that painted its stroke onto a temporary layer (``painter.paint_stroke``): its undo only
brings that layer back, so it takes back no recorded step (not logged), and a suggested ``undo`` is refused there."""


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
        self.refused_on_arrival = 0  # suggestions that failed the checks when they arrived
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
        self.hidden_by = {"confidence": 0, "probability": 0}  # of them, those each setting hid
        self.dropped = 0  # suggestions the server dropped from its last answer (they failed its checks)
        self.not_placeable = ""  # why the stroke shown cannot be previewed or accepted on this view (as the docker last heard)
        self.done = []  # Krita's undo steps the session made, oldest first: (recorded action, layer index), None (a stroke not
        # recorded) or MERGED_DOWN
        self.undone = []  # the steps undone that Krita's Redo brings back, the next one last (as ``done``'s, or NOT_FOLLOWED)
        self.redoing_layer = False  # a Redo brings back a new layer: the watcher logs it, as the step it was, not a new one
        self._canvas = None  # (width, height) of the canvas the newest state event gave
        self.accepting = False  # Accept runs Krita actions (undo) whose signals must not be logged as the painter's
        self.listener_errors = 0  # exceptions of listeners (the dockers' refresh), caught: never raised to Krita
        self._needs_state = True  # the log file has no state event yet, or events went unwritten (Record off)
        self._log_failure = None  # (log folder, one line) when the last record could not be written there

    # Sessions ---------------------------------------------------------------------------------

    def start(self, workspace, document_key=None):
        """The session of ``workspace``, whose document became active: a new one, or, for a document
        (``document_key``) painted in before another became active, the session it had, which goes
        on from its state now (a painter goes back and forth between a painting and a reference). A suggestion
        still shown in the session left behind is passed over: ``ignored``."""
        self._set_aside()
        self.workspace, self._document_key = workspace, document_key
        resumed = self._paused.pop(document_key, None) if document_key is not None else None
        if resumed is not None:
            (self.session_id, self.started, self.events, self.generation, self.sent_upto, self.private_upto,
             self.done, self.undone) = resumed
            self.generation += 1  # an answer asked for before the switch is stale
        else:
            self.session_id = new_session_id("krita")
            self.started = self.clock()
            self.events = []
            self.generation = 0
            self.sent_upto = self.private_upto = 0
            self.done, self.undone = [], []
        self.redoing_layer = False
        self.asked_generation = None
        self.asked_at = -RETRY_SECONDS
        self.suggestion = None
        self.builder.cancel()
        self.watcher.reset(workspace.look())
        self._add({"t": 0.0 if resumed is None else self.now(), "state": workspace.state()})
        self.notify()

    def leave(self):
        """No document is active (the painter closed the last one): a suggestion still shown is passed over
        (``ignored``) and hidden, and the session is kept to go on with if its document becomes active again."""
        if self.workspace is None:
            return
        self._set_aside()
        self.workspace = self._document_key = None
        self.builder.cancel()
        self.notify()

    def _set_aside(self):
        """Leave the session of the active document: its suggestion ``ignored``, its log closed, and the session kept
        (``_paused``) to go on with."""
        if self.suggestion is not None and self.workspace is not None:
            self.pass_over(self.now())
        self.close_log()
        self.ghost.clear()
        if self.workspace is not None and self._document_key is not None:
            self._paused[self._document_key] = (self.session_id, self.started, self.events, self.generation, self.sent_upto,
                                                self.private_upto, self.done, self.undone)
            while len(self._paused) > PAUSED_SESSIONS:
                self._paused.pop(next(iter(self._paused)))

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
        """Append ``record`` to the session log, when Record is on; in a new log file (a new session, another *Log
        folder*), and after records that Record off left out, a ``state`` event first (the canvas size and brush),
        as at the start of a session. Never raises: a record that cannot be written is reported (``log_problem``)."""
        if self.session_id is None:
            return
        if not self.settings.record:
            self._needs_state = True
            return
        path = self.log_path()
        if self._log is None or self._log.path != path:
            self.close_log()
            self._log = SessionLog(path, self.header())
            self._needs_state = True
        folder = self.settings.logs()
        try:
            records = [record]
            if self._needs_state and "state" not in record and self.workspace is not None:
                records.insert(0, {"t": record["t"], "state": self.workspace.state()})
            self._log.extend(records)
        except OSError as error:
            self._log_failure = (folder, f"Cannot write the session log in {folder}: {one_line(error.strerror or error)}")
        except Exception as error:  # a record the log cannot hold (ValueError), or a bug: the recording goes on
            self._log_failure = (folder, f"A record was not written to the session log {path}: {one_line(error) or type(error).__name__}")
        else:
            self._needs_state = False
            self._log_failure = None

    def log_problem(self):
        """Why the last record was not written to the session log (one line), or "": it stays until a record is
        written, or the *Log folder* setting changes, or Record is turned off."""
        if self._log_failure is None or not self.settings.record or self._log_failure[0] != self.settings.logs():
            return ""
        return self._log_failure[1]

    def _add(self, event):
        if "state" in event:
            self._canvas = self.workspace.canvas()
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
        """Record a finished stroke, unless Krita painted nothing (``painter.why_no_paint``: a locked, hidden or non-paint
        layer), or it is a dab or off the canvas (``stroke_action``): then it is counted, and the suggestion stays."""
        self.look_at_brush()
        node = self.workspace.active_node()
        why = painter.why_no_paint(node)
        action, why = (None, why) if why else stroke_action(points, self.workspace.look(), self.workspace.canvas())
        if action is None:  # a dab or a stroke off the canvas is painted all the same (Krita's layers have no edge)
            self.skip_stroke(why, painted=painter.why_no_paint(node) is None or painter.paints_unrecorded(node))
            self._show_ghost()
            return
        self.record_user_action(action)

    def skip_stroke(self, why, painted):
        """A stroke not recorded, counted by ``why``; ``painted``: Krita painted it all the same, so it is an undo step
        of Krita's that the log has not (an ``undo`` that takes it back is not logged)."""
        self.skipped[why] = self.skipped.get(why, 0) + 1
        if painted:
            self._did(None)
        self.notify()

    def unmapped_press(self):
        """A press of a painting tool where the view cannot be mapped (``canvas_events.unmapped_reason``): Krita paints a
        stroke that is not recorded, unless the active layer takes no paint."""
        why = self.workspace.unmapped_reason() if self.workspace is not None else ""
        node = self.workspace.active_node() if why else None
        if why and (painter.why_no_paint(node) is None or painter.paints_unrecorded(node)):
            self.skip_stroke(why, painted=True)

    def look_at_brush(self):
        """Log the brush and layer changes since the last look, and a ``state`` event where only one can say what changed
        (the canvas resized, the active layer removed or moved)."""
        for action in self.watcher.look(self.workspace.look()):
            self.record_user_action(action)
        if self.watcher.restacked or self.workspace.canvas() != self._canvas:
            self.watcher.restacked = False
            self.record_state()

    def record_state(self):
        """A ``state`` event of the document now; the suggestion shown is checked again (a canvas made smaller may leave
        a stroke off it: refused, as one that arrives so)."""
        self._add({"t": self.now(), "state": self.workspace.state()})
        shown = self.suggestion
        _stroke, why = checks.check_action(shown["action"], self.workspace.canvas()) if shown is not None else (None, "")
        if why:
            self._refuse(shown, why)
        else:
            self._show_ghost()
            self.notify()

    def on_undo(self):
        """Krita's Undo (Ctrl+Z): an ``undo``, unless it takes back a stroke that was not recorded (``done``)."""
        if self.workspace is None or self.accepting:
            return
        self.redoing_layer = False  # a new layer's Redo the watcher has not seen yet is undone again
        if self._undo() in (None, MERGED_DOWN):
            return
        self.record_user_action({"kind": "undo"})

    def on_redo(self):
        """Krita's Redo (Ctrl+Shift+Z) brings back the step the last undo took: logged again as that step (the krita
        action space has no redo; the log then reads as the canvas is). A stroke is logged as it was recorded, and a
        ``state`` after it when the brush is another now; a new layer is logged by the watcher, which sees it come
        back; a stroke that was not recorded, or a step before the session's, is not logged. Nor is a stroke whose layer is
        no longer the active one (the painter switched layers after the undo): the log places a stroke on the active layer,
        Krita's Redo paints it on its own, so it is a step the log has not."""
        if self.workspace is None or self.accepting or not self.undone:
            return
        step = self.undone.pop()
        if step is NOT_FOLLOWED:
            return
        action, layer = step if isinstance(step, tuple) else (None, None)
        if action is not None and action["kind"] != "layer.new" and layer != self.workspace.look().get("layer"):
            step = action = None
        self.done = (self.done + [step])[-MAX_UNDO_STEPS:]
        if action is None:
            return
        if action["kind"] == "layer.new":
            self.redoing_layer = True
            return
        self.record_user_action(action, redone=True)
        state = self.workspace.state()
        if any(key in state and state[key] != value for key, value in action["args"].items()):
            self.record_state()

    @property
    def undo_steps(self):
        """Krita's undo steps from the first stroke not recorded on (True: a recorded one), while one is still there to
        undo; else []. An undo that takes back one not recorded is not logged, nor is a suggested undo accepted."""
        first = next((index for index, step in enumerate(self.done) if not isinstance(step, tuple)), None)
        return [] if first is None else [isinstance(step, tuple) for step in self.done[first:]]

    def _did(self, action):
        """Krita made a new undo step: the recorded ``action`` (kept with the active layer's index), None (a stroke not
        recorded) or MERGED_DOWN. Krita's Redo has nothing left."""
        step = (action, self.workspace.look().get("layer")) if isinstance(action, dict) else action
        self.done = (self.done + [step])[-MAX_UNDO_STEPS:]
        self.undone = []

    def _undo(self):
        """The step an undo takes back (as ``done``'s, or NOT_FOLLOWED), kept for a Redo to bring back."""
        step = self.done.pop() if self.done else NOT_FOLLOWED
        self.undone = (self.undone + [step])[-MAX_UNDO_STEPS:]
        return step

    def record_user_action(self, action, redone=False):
        """Log what the painter did, first; then a suggestion they passed over gets ``ignored`` feedback. ``redone``: a
        step Krita's Redo brought back (``on_redo``), not a new one."""
        if self.accepting:
            return
        if action["kind"] == "layer.new" and self.redoing_layer:
            redone, self.redoing_layer = True, False
        if action["kind"] in UNDO_STEP_KINDS and not redone:
            self._did(action)
        t = self.now()
        shown = self.suggestion
        index = self._add({"t": t, "action": action})
        if shown is not None:
            self.suggestion = None
            self.ghost.clear()
            self.write_feedback(t, shown, False, "ignored")
            self.send_feedback(t, shown, False, "ignored", actual=index)
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
        problem = self.placement_problem()
        if problem != self.not_placeable:  # the painter mirrored the canvas, or turned it back: the docker says so
            self.not_placeable, changed = problem, True
        if self.settings.enabled:
            self._ask()
        elif self.status != "off":
            self.status, changed = "off", True
            self._set_suggestion(None)
        if changed:
            self.notify()

    def _configure(self):
        if self.client is None:
            self.client = ServerClient(self.settings.server_url, self.settings.token, timeout=REQUEST_TIMEOUT, thread_name="nep-krita-client",
                                       max_answer_bytes=MAX_ANSWER_BYTES)
        elif (self.client.url, self.client.token) != (self.settings.server_url, self.settings.token):
            self.client.configure(self.settings.server_url, self.settings.token)
            self.asked_generation = None

    def _ask(self):
        retry = self.status in FAILED and self.clock() - self.asked_at > RETRY_SECONDS
        if self.asked_generation == self.generation and not retry:
            return
        payload = {"domain": "krita", "session": self.session_id, "history": self.events[-HISTORY_EVENTS:], "state": self.workspace.state(), "top_k": SUGGESTIONS_ASKED}
        self.client.submit({"kind": "suggest", "generation": (self.session_id, self.generation), "payload": payload})
        self.asked_generation, self.asked_at = self.generation, self.clock()
        if self.status not in FAILED:
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
                self.status, self.message = self._failure(result)
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
            dropped = result.body.get("dropped")
            if result.body.get("best_is_no_edit") is True:
                suggestions = []
            sure = [item for item in suggestions if item["confidence"] >= self.settings.min_confidence]
            confident = [item for item in sure if item["probability"] >= self.settings.min_stroke_probability]
            request_id = result.body.get("request_id")
            request_id = request_id if isinstance(request_id, str) else None
            best = None
            for item in confident:  # best first: one that fails the checks is refused now, never shown
                _stroke, why = checks.check_action(item["action"], self.workspace.canvas())
                if not why and item["action"]["kind"] == "brush":  # a preset this Krita lacks (a name a model learnt elsewhere)
                    why = self.workspace.preset_problem(item["action"]["args"]["brush"])
                if not why:
                    best = item
                    break
                self._refuse_on_arrival(item, why, request_id)
            if best is not None:
                action = checks.known_part(best["action"])
                best = dict(best, action=action, label=checks.label(action, erasing=self.erasing()), shown_at=self.now(),
                            request_id=request_id)
            self._set_suggestion(best, hidden={"confidence": len(suggestions) - len(sure), "probability": len(sure) - len(confident)},
                                 dropped=dropped if isinstance(dropped, int) and not isinstance(dropped, bool) and dropped > 0 else 0)
        return changed

    def _failure(self, result):
        """``(status, message)`` of a failed suggestion request: why the server was not reached (``Result.cause``)."""
        url = self.settings.server_url
        if result.reachable:
            return "error", result.error
        if result.cause == SLOW:
            return "slow", (f"The NEP server at {url} did not answer within {REQUEST_TIMEOUT:g} s ({result.error}); it may be busy "
                            "(the first request loads the model). Asking again every few seconds.")
        if result.cause == BUSY:
            return "busy", f"The NEP server at {url} is shutting down or busy ({result.error}). Asking again every few seconds."
        return "unreachable", f"NEP server not reachable at {url} ({result.error}); start it with: {start_command(url)}"

    def _refuse_on_arrival(self, item, reason, request_id):
        """A suggestion that fails the checks as it arrives: ``refused``, with a summary of its action (never a long
        stroke's points), in the log and to the server, and the reason shown; never previewed."""
        t = self.now()
        refused = dict(item, action=checks.summary(item["action"]), shown_at=t, request_id=request_id)
        self.write_feedback(t, refused, False, "refused", reason)
        if refused["action"]["kind"] in checks.ARGS:  # nep serve refuses feedback on a kind its action space lacks
            self.send_feedback(t, refused, False, "refused", reason)
        self.refused_on_arrival += 1
        self.outcome = f"Refused: {reason.splitlines()[0][:checks.MAX_LABEL]}"

    def _set_suggestion(self, suggestion, hidden=None, dropped=0):
        """Show ``suggestion`` (None: none); ``hidden``: how many the *Minimum confidence* (``confidence``) and *Hide
        strokes less likely than* (``probability``) settings hid; ``dropped``: how many the server dropped."""
        self.suggestion = suggestion
        self.dropped = dropped
        self.hidden_by = dict(hidden or {"confidence": 0, "probability": 0})
        self.hidden = sum(self.hidden_by.values())
        self._show_ghost()

    def _show_ghost(self):
        """The ghost of the suggestion shown, if it is a stroke Accept may paint (else none)."""
        stroke, _ = checks.check_action(self.suggestion["action"], self.workspace.canvas()) if self.suggestion else (None, "")
        if stroke is None:
            self.ghost.clear()
        else:
            self.ghost.show(self._as_painted(stroke), erasing=self.erasing())

    def placement_problem(self):
        """Why the stroke shown can be neither previewed nor accepted on the painter's view now (Krita 5.1's rotated or
        mirrored canvas: ``canvas_events.unmapped_reason``), or "" (also when no stroke shows)."""
        shown = self.suggestion
        if shown is None or shown["action"].get("kind") != "stroke" or self.workspace is None:
            return ""
        return self.workspace.unmapped_reason()

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
        if self.workspace is not None and self.workspace.canvas() != self._canvas:
            self.look_at_brush()  # a canvas resized since the last tick: logged, and the suggestion checked against it
        suggestion = self.suggestion
        if suggestion is None or self.workspace is None:
            return False, "no suggestion to accept"
        why = self.placement_problem()
        if why:  # never painted unseen; the suggestion stays for when the view can show it
            return False, f"Not accepted: {why}"
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
        follows = []  # what else an accepted action changed, logged after it
        if stroke is not None:
            node = self.workspace.active_node()
            why = painter.why_no_paint(node)
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
            self._did(done)
            if how == "merge":  # then Merge Down, whose undo brings the stroke's layer back: that undo takes back no stroke
                self._did(MERGED_DOWN)
            self.watcher.reset(self.workspace.look())  # the change is logged as the accepted action, not again as a user change
            self.redoing_layer = False  # a layer a Redo brought back, if the reset took it in, is no longer to come
        else:
            if action["kind"] == "undo" and self.done and self.done[-1] is MERGED_DOWN:
                return self._refuse(suggestion, "undo: Krita's last step is the Merge Down of the stroke Accept painted, whose undo only "
                                                "brings back its temporary layer; undo twice yourself (Ctrl+Z) to take the stroke back")
            if action["kind"] == "undo" and self.undo_steps and not self.undo_steps[-1]:
                return self._refuse(suggestion, "undo: Krita's last step is a stroke that was not recorded; undo it yourself (Ctrl+Z)")
            if action["kind"] == "brush":
                why = self.workspace.preset_problem(action["args"]["brush"])
                if why:
                    return self._refuse(suggestion, why)
            before = self.workspace.look()
            ok, why = self.workspace.apply(action)
            if not ok:
                return self._refuse(suggestion, why)
            done = checks.known_part(action)
            if action["kind"] == "undo":
                self._undo()
            elif action["kind"] in UNDO_STEP_KINDS:
                self._did(done)
            # the change is logged as the accepted action, not again as a user change; a layer Krita shows as active
            # only a moment later is the active one already (Workspace.active_node). What else it changed (the size and
            # opacity a brush preset brings) is logged after it, as the watcher would log it.
            after = self.workspace.look()
            follows = [change for change in side_effects(before, after) if change["kind"] != action["kind"]]
            self.watcher.reset(after)
            self.redoing_layer = False
        t = self.now()
        self.write_feedback(t, suggestion, True, "accepted")
        index = self._add({"t": t, "action": done})
        for change in follows:
            self._add({"t": t, "action": change})
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


def one_line(text):
    """``text`` (an exception, say) as its first line, at most 300 characters."""
    lines = str(text).strip().splitlines()
    return lines[0][:300] if lines else ""


def side_effects(before, after):
    """The brush, size, opacity, colour and eraser changes between the looks ``before`` and ``after`` an accepted action, as
    the watcher logs a painter's (layers aside: an accepted layer action is logged as itself)."""
    watcher = BrushWatcher()
    watcher.reset({key: before.get(key) for key in BrushWatcher.BRUSH_KEYS})
    return watcher.look({key: after.get(key) for key in BrushWatcher.BRUSH_KEYS})


def suggestion_label(suggestion):
    """What the docker calls a suggestion: its label, else one made from its action."""
    action = suggestion.get("action")
    return suggestion.get("label") or (checks.label(action) if isinstance(action, dict) else "?")
