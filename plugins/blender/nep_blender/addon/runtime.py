"""The add-on at run time: one timer records operators, asks the server and collects its answers.

Everything here runs on Blender's main thread; the network is the client's worker thread. A
suggestion answer is used only if it was asked for the history as it is now (``generation``);
older answers are dropped. Accept runs a suggestion only after ``bpy_calls.check_call`` found it a
known operator of this Blender with valid properties, as one undo step.
"""

import hashlib
import math
import os
import time
import tomllib
import traceback

import bpy

from . import bpy_calls, preferences
from .client import BUSY, SLOW, ServerClient, check_suggestions
from .feedback import FeedbackMixin
from .recorder import OperatorRecorder, action_record, call_args, is_edit, without_names
from .sessionlog import SessionLog, new_session_id, utc_now

TICK_SECONDS = 0.3
RETRY_SECONDS = 5.0
HISTORY_EVENTS = 32
"""Newest events sent with each suggestion request (the model reads fewer)."""
REQUEST_TIMEOUT = 5.0
"""Seconds the worker thread waits for the server; the UI never waits."""
FAILED = ("unreachable", "slow", "busy", "error")
"""Statuses after a request that failed: asked again after RETRY_SECONDS."""
MAX_LABEL = 200


def addon_version():
    with open(os.path.join(os.path.dirname(__file__), "blender_manifest.toml"), "rb") as handle:
        return tomllib.load(handle)["version"]


def edit_of(kind):
    """Whether ``kind`` is an edit, from the live operator's ``bl_options``."""
    function = bpy_calls.operator(bpy, kind)
    return is_edit(kind, set(function.bl_options) if function is not None else set())


CODE_RUNNING = frozenset({"text.run_script", "text.run_script_file"})
"""Operators that run Python code; with every ``script.*`` operator, never run from a suggestion."""


def unsafe_reason(kind, args):
    """Why Accept must not run this call even though Blender has it, or ''.

    NEP suggests edits inside the scene only, and never code execution or file paths (the recorder
    does not log paths, so a model never learns them): a call that reaches outside the scene (saves,
    exports, imports, the clipboard, text and scripts) or renders or bakes to disk is refused by the
    same rule that keeps the replay verifier from running it and the server from suggesting it
    (``bpy_calls.outside_reason``), and so is one that sets a free string (a data path, a name),
    which the action space never writes (``bpy_calls.free_strings``); such a suggestion comes from a
    broken or hostile server.
    """
    function = bpy_calls.operator(bpy, kind)
    if function is None:
        return ""  # check_call says why
    if kind.partition(".")[0] == "script" or kind in CODE_RUNNING:
        return f"{kind} runs code; NEP never runs it from a suggestion"
    paths = bpy_calls.path_arguments(function, args)
    if paths:
        return f"{kind}.{paths[0]} is a file path; NEP never sets one from a suggestion"
    outside = bpy_calls.outside_reason(kind, args)
    if outside:
        return f"{outside}; NEP never runs it from a suggestion"
    strings = bpy_calls.free_strings(function.get_rna_type(), args)
    if strings:
        return f"{kind}.{strings[0]} is a free string (a data path, a name); NEP never sets one from a suggestion"
    if not is_edit(kind, set(function.bl_options)):
        return f"{kind} is not an edit; NEP suggests edits only"
    return ""


def one_line(text):
    """``text`` with every run of whitespace, newlines included, as one space."""
    return " ".join(text.split())


NAMED_AT_DEFAULT = {"object.mode_set": ("mode",), "transform.rotate": ("orient_axis",)}
"""Arguments a label names even at their default, which Blender's name for the operator does not say:
``Set Object Mode (mode OBJECT)``, not ``Set Object Mode``. An operator's ``type`` (what Add Modifier
adds, where Set Origin moves to) is always named."""


def named_at_default(kind, rna):
    """The defaults a label names though the call leaves them out: ``NAMED_AT_DEFAULT`` and ``type``."""
    names = [*NAMED_AT_DEFAULT.get(kind, ()), *(("type",) if "type" in rna.properties else ())]
    named = {}
    for name in names:
        prop = rna.properties.get(name)
        if prop is None or prop.type != "ENUM" or prop.is_enum_flag:
            continue
        items = {item.identifier for item in prop.enum_items}  # none for a dynamic enum, whose default is worked out
        if items and prop.default in items:
            named[name] = prop.default
    return named


def acted_on(kind, args):
    """The modifier a modifier operator called without one acts on here and now, the active one
    (``bpy_calls.implicit_modifier``: "" when there is none); None for other calls."""
    function = bpy_calls.operator(bpy, kind)
    return bpy_calls.implicit_modifier(bpy, function, args) if function is not None else None


def call_label(kind, args, modifier=None):
    """What the panel shows for a call, built here from the live operator and never taken from the
    server: Blender's name for it, then each argument it runs with that is not the default (and those
    of ``NAMED_AT_DEFAULT``), and ``modifier``, the one a modifier operator without one acts on
    (``acted_on``): ``Add Modifier (type BOOLEAN)``, ``Apply Modifier (Bevel)``."""
    function = bpy_calls.operator(bpy, kind)
    if function is None:
        return one_line(f"{kind} (not in this Blender)")[:MAX_LABEL]
    rna = function.get_rna_type()
    named = named_at_default(kind, rna)
    given = {**named, **call_args(rna, args or {})}
    order = {prop.identifier: index for index, prop in enumerate(rna.properties)}
    parts = settings_shown(rna, dict(sorted(given.items(), key=lambda item: order.get(item[0], len(order)))))
    if modifier:
        parts.append(modifier)
    label = (rna.name or kind) + (f" ({'; '.join(parts)})" if parts else "")
    return one_line(label)[:MAX_LABEL]


def settings_shown(rna, args):
    """``name value`` for each of ``args`` (a macro's inner ones too), angles in degrees."""
    shown = []
    for name, value in args.items():
        prop = rna.properties.get(name)
        if isinstance(value, dict) and prop is not None and prop.type == "POINTER":
            shown += settings_shown(prop.fixed_type, value)
            continue
        angle = prop is not None and prop.type == "FLOAT" and prop.subtype in ("ANGLE", "EULER")
        items = value if isinstance(value, list) else [value]
        shown.append(f"{name} {', '.join(value_shown(item, angle) for item in items)}")
    return shown


def value_shown(value, angle=False):
    """One value of a call as the label shows it: floats short, angles in degrees, enum items as they are."""
    if isinstance(value, float):
        return f"{round(math.degrees(value), 2):g}°" if angle else f"{value:g}"  # 90.0002° from a quantized angle: 90°
    return str(value)[:40]


class Runtime(FeedbackMixin):
    """The recorder, the session log, the server client and the suggestions shown (feedback: FeedbackMixin)."""

    def __init__(self):
        self.version = addon_version()
        self.recorder = OperatorRecorder(edit_of, polls_now)
        self.client = None
        self.status = "starting"
        self.message = ""
        self._log_failure = None  # (folder, why) when the last record could not be written there
        self.p_no_edit = None
        self.dropped = 0  # the last answer's suggestions that failed the server's checks (its `dropped`)
        self.feedback_sent = 0
        self.stale_answers = 0
        self.hidden_unrunnable = 0  # suggestions left out because they cannot run in the live scene
        self._settings = None
        self._log = None
        self._errors = set()
        self._clear_session()
        self.session_id = None  # the first tick starts the session (register() runs in a restricted context)

    # Sessions ---------------------------------------------------------------------------------

    def new_session(self):
        """Start a new session (the add-on started, or a file was loaded); its log appears with its first record."""
        if self._log is not None:
            self._log.close()
            self._log = None
        self._clear_session()
        self.recorder.absorb(self._entries(), bpy_calls.current_context(bpy))

    def _clear_session(self):
        self.session_id = new_session_id("blender")
        self.started = time.monotonic()
        self.events = []
        self.generation = 0
        self.sent_upto = 0
        self.asked_generation = None
        self.asked_at = 0.0
        self.private_upto = 0  # events before it were recorded with Record off: never sent as feedback
        self.suggestions = []
        self.hidden_now = (0, 0)  # of the latest answer: (below the minimum confidence, cannot run here)
        self.outcome = ""
        self.pending_undos = self.pending_redos = 0
        self.unrecorded = 0  # history entries that could not be read (the panel says so)
        self.recorder.reset()

    def now(self):
        return round(time.monotonic() - self.started, 3)

    def header(self):
        meta = {"app": f"Blender {bpy.app.version_string}", "source": "addon", "addon": self.version}
        if bpy.data.filepath:
            meta["document"] = os.path.basename(bpy.data.filepath)
            meta["source_id"] = "blend-" + hashlib.sha1(os.path.abspath(bpy.data.filepath).encode()).hexdigest()[:12]
        return {"nep": 1, "domain": "blender", "session": self.session_id, "created": utc_now(), "meta": meta}

    def log_path(self, prefs):
        return os.path.join(preferences.log_folder(prefs), f"{self.session_id}.jsonl")

    def log_problem(self, prefs):
        """One line on why the log folder the preferences name could not be written, or ''."""
        folder = preferences.log_folder(prefs)
        problem = preferences.log_folder_problem(folder)
        if problem:
            return f"Cannot write logs to {folder}: {problem}"
        if self._log_failure is None or self._log_failure[0] != folder:
            return ""
        return f"Cannot write logs to {folder}: {self._log_failure[1]}"

    def write(self, record):
        """Append one record to this session's log (when recording is on)."""
        prefs = preferences.get()
        if prefs is None or not prefs.record:
            return
        path = self.log_path(prefs)
        problem = preferences.log_folder_problem(preferences.log_folder(prefs))
        if problem:
            self._report_once(f"NEP: cannot write the session log {path}: {problem}")
            return
        if self._log is None or self._log.path != path:
            if self._log is not None:
                self._log.close()
            self._log = SessionLog(path, self.header())
        try:
            self._log.append(record)
        except OSError as error:
            self._log_failure = (preferences.log_folder(prefs), one_line(error.strerror or str(error)))
            self._report_once(f"NEP: cannot write the session log {path}: {error}")
            return
        except ValueError as error:  # a non-finite number, which the log format refuses
            self._report_once(f"NEP: cannot write the session log {path}: {error}")
            return
        self._log_failure = None

    def add_event(self, t, action):
        event = {"t": t, "action": action}
        self.events.append(event)
        self.generation += 1
        self.write(event)
        if not recording():
            self.private_upto = self.sent_upto = len(self.events)  # never to go to the server's feedback log
        return len(self.events) - 1

    def send_feedback(self, *args, **kwargs):
        """FeedbackMixin's, with Record on only: ``nep serve`` writes what feedback carries to its feedback log."""
        if recording():
            super().send_feedback(*args, **kwargs)

    def feedback_result(self, result):
        """FeedbackMixin's; events of a failed request go again, unless Record was off since they were recorded."""
        failed = super().feedback_result(result)
        self.sent_upto = max(self.sent_upto, self.private_upto)
        return failed

    # The timer --------------------------------------------------------------------------------

    def tick(self, entries=None):
        """One look: record new operators, hand answers to the panel, ask for suggestions."""
        prefs = preferences.get()
        if prefs is None:
            return
        if self.session_id is None:
            self.new_session()
        self._configure(prefs)
        changed = self._look(entries)
        changed |= self._collect()
        if prefs.enabled:
            self._ask(prefs)
        elif self.status != "off":
            self.status, self.suggestions, self.asked_generation, changed = "off", [], None, True
        if changed:
            tag_redraw()

    def _look(self, entries=None):
        """Record what is new in Blender's operator history (``entries``), undo, redo and mode switches; True when anything was."""
        active = getattr(bpy.context, "active_object", None)
        records = self.recorder.look(
            self._entries() if entries is None else entries,
            bpy_calls.current_context(bpy),
            object_mode=active.mode if active is not None else None,
            undos=self.pending_undos,
            redos=self.pending_redos,
        )
        if self.pending_undos or self.pending_redos:
            self.outcome = ""  # "Accepted: ..." no longer says what the scene holds
        self.pending_undos = self.pending_redos = 0
        unreadable, self.recorder.unreadable = self.recorder.unreadable, []
        for kind, why in unreadable:
            self.unrecorded += 1
            self._report_once(f"NEP: {kind} in Blender's operator history could not be read ({why}); it is not in the session log")
        if records:
            self._record_user_actions(records)
        return bool(records or unreadable)

    def _entries(self):
        window_manager = bpy.context.window_manager
        return list(window_manager.operators) if window_manager is not None else []

    def _configure(self, prefs):
        settings = (prefs.server_url, prefs.token)
        if self.client is None:
            self.client = ServerClient(prefs.server_url, prefs.token, timeout=REQUEST_TIMEOUT)
        elif settings != self._settings:
            self.client.configure(*settings)
            self.asked_generation = None  # ask the new server
        self._settings = settings

    def _record_user_actions(self, records):
        """Log what the user did; a shown suggestion they passed over gets feedback with what they did
        instead (``ignored``). One they carried out by hand gets none: it was neither taken nor turned down."""
        t = self.now()
        first_edit = next((record for record in records if record.get("edit", True)), None)
        shown = self.suggestions[0] if self.suggestions else None
        ignored = shown is not None and first_edit is not None and not done_as_suggested(first_edit, shown)
        if ignored:
            self.write_feedback(t, shown, accepted=False, outcome="ignored")
        indices = [self.add_event(t, record) for record in records]
        if ignored:
            self.send_feedback(t, shown, accepted=False, outcome="ignored", actual=indices[records.index(first_edit)])
        if first_edit is not None:
            self.suggestions = []

    def _ask(self, prefs):
        retry = self.status in FAILED and time.monotonic() - self.asked_at > RETRY_SECONDS
        if self.asked_generation == self.generation and not retry:
            return
        payload = {
            "domain": "blender",  # a server of another domain on this port says so
            "session": self.session_id,
            "history": self.events[-HISTORY_EVENTS:],
            "state": without_names(bpy_calls.current_context(bpy)),
            "top_k": max(1, min(20, prefs.count)),
        }
        self.client.submit({"kind": "suggest", "generation": (self.session_id, self.generation), "payload": payload})
        self.asked_generation, self.asked_at = self.generation, time.monotonic()
        if self.status not in FAILED:
            self.status = "waiting"

    def _collect(self):
        """Apply the worker's results; True when the panel must be redrawn."""
        changed = False
        for result in self.client.results():
            current = result.generation == (self.session_id, self.generation)
            if result.kind == "feedback":
                changed |= self.feedback_result(result)
                continue
            if result.kind != "suggest":
                continue
            changed = True
            if not result.ok:
                self.status = "error" if result.reachable else {SLOW: "slow", BUSY: "busy"}.get(result.cause, "unreachable")
                self.message = result.error
                if current:
                    self.suggestions = []
                continue
            if not current:
                self.stale_answers += 1  # asked for an older history
                continue
            try:
                suggestions = check_suggestions(result.body)
            except ValueError as error:
                self.status, self.message, self.suggestions = "error", str(error), []
                continue
            self.status, self.message = "ok", ""
            self.p_no_edit = result.body.get("p_no_edit")
            dropped = result.body.get("dropped")
            self.dropped = dropped if type(dropped) is int and dropped > 0 else 0
            if result.body.get("best_is_no_edit") is True:
                suggestions = []
            prefs = preferences.get()
            request_id = result.body.get("request_id")
            request_id = request_id if isinstance(request_id, str) else None
            shown_at = self.now()
            confident = [item for item in suggestions if item["confidence"] >= prefs.min_confidence]
            runnable = [item for item in confident if runnable_now(item["action"]["kind"], item["action"].get("args") or {})]
            self.hidden_unrunnable += len(confident) - len(runnable)
            self.hidden_now = (len(suggestions) - len(confident), len(confident) - len(runnable))
            self.suggestions = [shown_as(item, request_id, shown_at, self.generation) for item in runnable][: prefs.count]
        return changed

    # Accept and Dismiss -----------------------------------------------------------------------

    def accept(self, index, context=None):
        """Run suggestion ``index`` as one undo step; ``(True, message)``, or ``(False, why)`` when refused.

        What the user ran since the last tick is recorded first; a suggestion made for an older
        history is not run, and a new one is asked for."""
        if not 0 <= index < len(self.suggestions):
            return False, "no such suggestion"
        suggestion = self.suggestions[index]
        self._look()
        if suggestion.get("generation") != self.generation:
            self.suggestions = []
            self.refresh()
            self.outcome = "Not run: it was suggested before your latest changes; asking for a new suggestion"
            tag_redraw()
            return False, self.outcome
        kind, args = suggestion["action"]["kind"], suggestion["action"].get("args") or {}
        before = bpy_calls.current_context(bpy)
        unsafe = unsafe_reason(kind, args)
        if unsafe:
            return self._refuse(index, unsafe)
        modifier = suggestion.get("modifier")
        if modifier and not has_modifier(modifier):
            return self._refuse(index, f"the modifier {modifier} that the suggestion names is no longer on the active object")
        args = run_args(suggestion)
        try:
            with _main_region(context):
                result = bpy_calls.run_call(bpy, kind, args, undo=True)
        except bpy_calls.CallRefused as error:
            return self._refuse(index, str(error))
        except (RuntimeError, TypeError, ValueError) as error:
            return self._refuse(index, (str(error).strip().splitlines() or [type(error).__name__])[0])
        if "FINISHED" not in result:
            return self._refuse(index, f"{suggestion['label']} did not run: Blender cancelled it, as the selection or mode "
                                       f"does not suit it ({kind}: {', '.join(sorted(result))})")
        t = self.now()
        self.write_feedback(t, suggestion, accepted=True, outcome="accepted")
        actual = self.add_event(t, action_record(kind, args, before, edit_of(kind)))
        self.send_feedback(t, suggestion, accepted=True, outcome="accepted", actual=actual)
        self.recorder.absorb(self._entries(), bpy_calls.current_context(bpy), called_in=before)
        self.suggestions, self.hidden_now = [], (0, 0)
        self.outcome = f"Accepted: {suggestion['label']}"
        tag_redraw()
        return True, self.outcome

    def dismiss(self, index):
        """Hide suggestion ``index``; the server hears it was dismissed."""
        if not 0 <= index < len(self.suggestions):
            return False, "no such suggestion"
        suggestion = self.suggestions.pop(index)
        t = self.now()
        self.write_feedback(t, suggestion, accepted=False, outcome="dismissed")
        self.send_feedback(t, suggestion, accepted=False, outcome="dismissed")
        self.outcome = f"Dismissed: {suggestion['label']}"
        tag_redraw()
        return True, self.outcome

    def _refuse(self, index, reason):
        reason = one_line(reason)
        suggestion = self.suggestions.pop(index)
        t = self.now()
        self.write_feedback(t, suggestion, accepted=False, outcome="refused", reason=reason)
        self.send_feedback(t, suggestion, accepted=False, outcome="refused", reason=reason)
        self.outcome = f"Refused: {reason}"
        tag_redraw()
        return False, self.outcome

    # Asking again -----------------------------------------------------------------------------

    def refresh(self):
        """Ask again now (after starting the server, say)."""
        self.asked_generation = None
        self.status = "waiting"

    # Handlers ---------------------------------------------------------------------------------

    def _report_once(self, message):
        if message not in self._errors:
            self._errors.add(message)
            print(message)

    def close(self):
        """Stop the client without waiting on the network (an answer on its way is dropped), close the log."""
        if self.client is not None:
            self.client.close(wait=0)
            self.client = None
        if self._log is not None:
            self._log.close()
            self._log = None


def recording():
    """Whether Record is on."""
    prefs = preferences.get()
    return prefs is not None and prefs.record


def runnable_now(kind, args):
    """Whether Accept could run the call here and now: safe, well-typed, and its poll passes in the
    3D View. The server does not replay scenes (too slow for the request path): the live scene is
    the check, so a suggestion that cannot run in the current mode or selection is never shown."""
    if unsafe_reason(kind, args):
        return False
    try:
        function = bpy_calls.check_call(bpy, kind, args)
        if bpy_calls.implicit_modifier(bpy, function, args) == "":
            return False  # a modifier operator, and no modifier to act on
    except Exception:  # a refused call
        return False
    return polls(function)


def polls(function):
    """Whether ``function``'s poll passes in the 3D View now; False where it needs a context it cannot have here."""
    try:
        with bpy.context.temp_override(**bpy_calls.viewport_override(bpy)):
            return bool(function.poll())
    except Exception:
        return False


def polls_now(kind):
    """Whether ``kind`` can run in the mode as it is now (the recorder orders a mode switch with it)."""
    function = bpy_calls.operator(bpy, kind)
    return function is not None and polls(function)


def shown_as(item, request_id, shown_at, generation):
    """A checked suggestion as the panel keeps it: its label, and the modifier that label names (the
    active one now), which Accept applies even if another becomes active meanwhile (a click on a
    modifier panel runs no operator)."""
    kind, args = item["action"]["kind"], item["action"].get("args") or {}
    modifier = acted_on(kind, args)
    return dict(item, label=call_label(kind, args, modifier), modifier=modifier, request_id=request_id,
                shown_at=shown_at, generation=generation)


def run_args(suggestion):
    """The arguments Accept runs a suggestion with: the server's, and the modifier its label names."""
    args = dict(suggestion["action"].get("args") or {})
    if suggestion.get("modifier"):
        args["modifier"] = suggestion["modifier"]
    return args


def has_modifier(name):
    """Whether the active object has a modifier called ``name``."""
    obj = getattr(bpy.context, "object", None)
    return obj is not None and hasattr(obj, "modifiers") and obj.modifiers.get(name) is not None


def done_as_suggested(record, suggestion):
    """Whether the user's logged call ``record`` is the call Accept would have run for ``suggestion``
    (compared as the recorder logs both: numbers as Blender stores them, defaults left out)."""
    kind = suggestion["action"]["kind"]
    function = bpy_calls.operator(bpy, kind)
    if function is None or record["kind"] != kind:
        return False
    return call_args(function.get_rna_type(), run_args(suggestion)) == record.get("args", {})


class _main_region:
    """Run in the 3D View's main region when Accept was clicked in its sidebar."""

    def __init__(self, context):
        self.override = None
        area = getattr(context, "area", None) if context is not None else None
        if area is not None and area.type == "VIEW_3D":
            region = next((region for region in area.regions if region.type == "WINDOW"), None)
            if region is not None:
                self.override = context.temp_override(area=area, region=region)

    def __enter__(self):
        if self.override is not None:
            self.override.__enter__()

    def __exit__(self, *exc):
        if self.override is not None:
            return self.override.__exit__(*exc)
        return False


def tag_redraw():
    window_manager = bpy.context.window_manager
    for window in getattr(window_manager, "windows", []):
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


RUNTIME = None


def _timer():
    if RUNTIME is None:
        return None
    try:
        RUNTIME.tick()
    except Exception:  # keep the timer alive; say what went wrong once
        RUNTIME.status, RUNTIME.message = "error", "internal error; see the system console"
        RUNTIME._report_once("NEP add-on error:\n" + traceback.format_exc())
    return TICK_SECONDS


@bpy.app.handlers.persistent
def _on_undo(*_args):
    if RUNTIME is not None:
        RUNTIME.pending_undos += 1


@bpy.app.handlers.persistent
def _on_redo(*_args):
    if RUNTIME is not None:
        RUNTIME.pending_redos += 1


@bpy.app.handlers.persistent
def _on_load(*_args):
    if RUNTIME is not None and RUNTIME.session_id is not None:
        RUNTIME.new_session()


HANDLERS = ((bpy.app.handlers.undo_post, _on_undo), (bpy.app.handlers.redo_post, _on_redo), (bpy.app.handlers.load_post, _on_load))


def start():
    """Create the runtime and hook it to Blender; the first tick starts the session."""
    global RUNTIME
    RUNTIME = Runtime()
    for handlers, handler in HANDLERS:
        if handler not in handlers:
            handlers.append(handler)
    if not bpy.app.timers.is_registered(_timer):
        bpy.app.timers.register(_timer, first_interval=1.0, persistent=True)


def stop():
    global RUNTIME
    if bpy.app.timers.is_registered(_timer):
        bpy.app.timers.unregister(_timer)
    for handlers, handler in HANDLERS:
        while handler in handlers:
            handlers.remove(handler)
    if RUNTIME is not None:
        RUNTIME.close()
        RUNTIME = None
