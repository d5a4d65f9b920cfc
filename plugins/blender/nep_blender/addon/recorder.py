"""Blender's operator history as NEP session-log events (``sessionlog.py`` writes them).

Plain Python without a ``bpy`` import: history entries and property groups are passed in, so the
logic runs on Blender's own objects and on objects shaped like them alike.

Blender keeps the operators a user ran in ``window_manager.operators`` (at most 32). The recorder
looks at that list on a timer and tells entries apart by ``as_pointer()``, never by name:

- an entry it has not seen is a new call, logged with the context seen at the previous look (the
  context *before* the call, as the synthetic sessions record it);
- an entry it has seen whose properties changed is a redo-panel edit ("Adjust Last Operation"),
  which Blender runs as undo plus the call with new settings. It is logged as exactly that: an
  ``ed.undo`` event, then the call again with its new settings. The log stays append-only, a replay
  ends in the final settings, and the pattern is the one the synthetic sessions use for a step
  redone differently. Settings are compared at each look, so dragging a slider in the panel logs
  one redo per look, not one per intermediate value;
- Ctrl+Z and Ctrl+Shift+Z never enter the history: the ``undo_post``/``redo_post`` handlers count
  them, and each look logs ``ed.undo``/``ed.redo`` (the undos a redo-panel edit causes are folded
  into its ``ed.undo``);
- mode switches (Tab, the mode menu) run ``object.mode_set``, which Blender keeps out of the
  history: a mode change that no new entry explains (``MODE_SWITCHES``, an undo, a redo) is logged as
  ``object.mode_set(mode=...)``. When the same look finds new calls, their order with the switch is
  not in the history: the switch is logged after the last call that cannot run in the mode now
  (``polls_now``), so before the first call that can, and the calls after it carry the new mode.

An entry is read past the operator's own properties: Blender's ``Operator`` answers ``entry.x`` with
the operator property ``x`` when there is one (``object.transform_apply`` has a boolean
``properties``), so ``entry_fields`` asks its class. An entry that cannot be read is not recorded,
but never in silence: ``unreadable`` says which, for the add-on to tell the user.
"""

import json
import math
import re

if __package__:  # the add-on: the zip ships bpy_calls.py beside this file
    from .bpy_calls import outside_reason
else:  # this file loaded on its own, outside a package (tests): the same module from NEP
    from nep_blender.bpy_calls import outside_reason

FORMAT_VERSION = 1
MAX_ARRAY = 4
"""Longer arrays (matrices) are not recorded: NEP's action space has no place for them."""

PRIVATE_SUBTYPES = frozenset({"FILE_PATH", "DIR_PATH", "FILE_NAME", "PASSWORD", "BYTE_STRING"})
"""String properties never written to a log: paths and secrets."""

VIEW_MODULES = frozenset({"view3d", "view2d", "screen", "ui", "wm", "file", "preferences", "console", "info", "buttons", "workspace"})
EDITS_WITHOUT_UNDO_FLAG = frozenset({"object.mode_set", "object.editmode_toggle", "object.posemode_toggle", "view3d.snap_cursor_to_selected"})
NOT_EDITS = frozenset({"ed.undo", "ed.redo", "ed.undo_history", "ed.undo_push"})
MODE_SWITCHES = frozenset({
    "object.mode_set", "object.mode_set_with_submode", "object.editmode_toggle", "object.posemode_toggle",
    "object.transfer_mode", "sculpt.sculptmode_toggle", "paint.vertex_paint_toggle", "paint.weight_paint_toggle",
    "paint.texture_paint_toggle", "curves.sculptmode_toggle", "grease_pencil.paintmode_toggle",
    "grease_pencil.sculptmode_toggle", "grease_pencil.vertexmode_toggle", "grease_pencil.weightmode_toggle",
})
"""Operators that change the object's mode themselves: a mode change in the look that logs one is theirs."""
MAX_UNDOS_PER_LOOK = 32


def operator_kind(bl_idname):
    """``MESH_OT_primitive_cube_add`` (as the history holds it) to ``mesh.primitive_cube_add``."""
    module, separator, name = bl_idname.partition("_OT_")
    if separator and module and name:
        return f"{module.lower()}.{name}"
    return bl_idname


def is_edit(kind, options):
    """Whether an operator changes the scene and stays inside it; the same rule as NEP's registry
    (docs/domains/blender.md). A call that reaches outside the scene or bakes to disk
    (``bpy_calls.outside_reason``) is context, never suggested."""
    module, _, name = kind.partition(".")
    if outside_reason(kind):
        return False
    if kind in EDITS_WITHOUT_UNDO_FLAG:
        return True
    if "UNDO" not in options or kind in NOT_EDITS or re.search(r"select(?!ed)", name):
        return False
    return module not in VIEW_MODULES or name.startswith("snap")


def _number(prop_type, value):
    if prop_type == "INT":
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return float(f"{value:.7g}")  # Blender stores single precision: 7 significant digits


def _same_number(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


FILLED_IN_AT_RUN_TIME = {"scale": 1.0}
"""Array properties whose stored default (all zeros) Blender replaces when a call leaves them unset:
every object-add operator (``mesh.primitive_cube_add``, ``object.light_add``...) runs with ``scale``
1, 1, 1 and keeps that in its history entry. That value is the call's default, so it is not logged:
a cube added in the UI and one added by Accept or a script log the same call."""


def _filled_in(prop, value):
    """Whether ``value`` is what Blender fills in at run time for ``prop`` left unset (``FILLED_IN_AT_RUN_TIME``)."""
    fill = FILLED_IN_AT_RUN_TIME.get(prop.identifier)
    return (fill is not None and prop.type == "FLOAT" and not any(prop.default_array)
            and all(_same_number(item, fill) for item in value))


def _value(prop, value):
    """(JSON value, whether it is the property's default) for one property value."""
    length = getattr(prop, "array_length", 0) or 0
    if prop.type == "BOOLEAN":
        if length:
            value = [bool(item) for item in value]
            return value, value == [bool(item) for item in prop.default_array]
        return bool(value), bool(value) == bool(prop.default)
    if prop.type in ("INT", "FLOAT"):
        if length:
            value = [_number(prop.type, item) for item in value]
            default = list(prop.default_array)
            return value, all(_same_number(item, other) for item, other in zip(value, default)) or _filled_in(prop, value)
        value = _number(prop.type, value)
        return value, _same_number(value, prop.default)
    if prop.type == "ENUM":
        if prop.is_enum_flag:
            value = sorted(value)
            return value, value == sorted(prop.default_flag)
        return str(value), str(value) == str(prop.default)
    value = str(value)
    return value, value == prop.default


def properties_to_args(properties):
    """The non-default properties of an operator call as the keyword arguments Python would pass.

    A macro's sub-operators nest (``{"TRANSFORM_OT_translate": {"value": [0, 0, 1]}}``); pointers,
    collections, arrays longer than 4, paths and non-finite numbers are left out. The RNA is the class's,
    which no property of the operator (one named ``bl_rna``) can hide.
    """
    return _logged_args(type(properties).bl_rna, properties, getattr)


def call_args(rna, args):
    """The arguments of ``args`` (a call to the operator ``rna``) that ``properties_to_args`` would log:
    in the operator's order, numbers as Blender stores them, defaults left out (what a label shows)."""
    return _logged_args(rna, args, dict.__getitem__)


def _logged_args(rna, values, read):
    """The logged arguments of ``values``, a property group (``read`` is ``getattr``) or a dict."""
    args = {}
    for prop in rna.properties:
        name = prop.identifier
        if name == "rna_type" or prop.type == "COLLECTION":
            continue
        try:
            value = read(values, name)
        except (AttributeError, KeyError, TypeError):  # TypeError: a macro's arguments that are not a dict
            continue
        if prop.type == "POINTER":
            if "_OT_" in getattr(prop.fixed_type, "identifier", "") and value is not None:
                nested = _logged_args(prop.fixed_type, value, read)
                if nested:
                    args[name] = nested
            continue
        if (getattr(prop, "array_length", 0) or 0) > MAX_ARRAY:
            continue
        if prop.type == "STRING" and prop.subtype in PRIVATE_SUBTYPES:
            continue
        try:
            value, is_default = _value(prop, value)
        except (AttributeError, TypeError, ValueError):
            continue
        if not is_default:
            args[name] = value
    return args


SELECTION_NAMES = ("active_name", "selected_names")
"""The context's object names (``bpy_calls.current_context``), for the replay verifier only."""


def without_names(context):
    """``context`` without the selection's names: the state the add-on sends with a request, which is
    all the model reads (names would make the server's speculation miss after an Accept that adds an
    object, which changes names and nothing the model reads)."""
    return {key: value for key, value in context.items() if key not in SELECTION_NAMES}


def entry_fields(entry):
    """``(pointer, kind, settings)`` of a ``window_manager.operators`` entry, read through its class: an
    instance attribute would give the operator's own property of that name (``properties``,
    ``bl_idname``, ``as_pointer``) when it has one."""
    cls = type(entry)
    return cls.as_pointer(entry), operator_kind(cls.path_resolve(entry, "bl_idname")), cls.path_resolve(entry, "properties")


def switches_mode(kind, args):
    """Whether the call changes the object's mode itself (``MODE_SWITCHES``, an add with ``enter_editmode``)."""
    return kind in MODE_SWITCHES or args.get("enter_editmode") is True


def action_record(kind, args, context, edit):
    """An action in the session-log format."""
    action = {"kind": kind}
    if args:
        action["args"] = args
    if context:
        action["context"] = dict(context)
    if not edit:
        action["edit"] = False
    return action


class OperatorRecorder:
    """Turns successive looks at ``window_manager.operators`` into new action records.

    ``edit_of(kind)`` says whether an operator is an edit (the add-on asks Blender for its options),
    ``polls_now(kind)`` whether it can run in the mode as it is now (its ``poll()``; by default, yes).
    ``unreadable`` lists ``(kind, why)`` for entries that could not be read, each once, until taken.
    """

    def __init__(self, edit_of, polls_now=None):
        self.edit_of = edit_of
        self.polls_now = polls_now or (lambda kind: True)
        self.unreadable = []
        self.reset()

    def reset(self):
        """Forget every entry and the context (a new session)."""
        self._seen = {}
        self._unreadable_pointers = set()
        self._last_pointer = None
        self._context = None

    def absorb(self, entries, context, called_in=None):
        """Take the current entries and context as seen, without recording anything: after a file
        load, or an Accept that logs its call itself (``called_in``: the context it ran in)."""
        for pointer, kind, args in self._read(entries):
            if pointer not in self._seen:
                self._seen[pointer] = (kind, _key(args), dict(called_in or context))
            self._last_pointer = pointer
        self._context = dict(context)

    def look(self, entries, context, object_mode=None, undos=0, redos=0):
        """The action records for what happened since the last look, in order.

        ``context`` is the current ``{"mode", "active", "selected"}`` and ``object_mode`` the active
        object's mode (``EDIT``, ``SCULPT``...); ``undos``/``redos`` count the undo and redo steps
        Blender reported (its ``undo_post``/``redo_post`` handlers) since the last look.
        """
        before = self._context or context
        current = self._read(entries)
        present = {pointer for pointer, _, _ in current}
        records = []
        redo = None
        new = []
        for pointer, kind, args in current:
            known = self._seen.get(pointer)
            if known is None or known[0] != kind:
                new.append((pointer, kind, args))
            elif known[1] != _key(args):
                if pointer == self._last_pointer and redo is None:
                    redo = (pointer, kind, args)
                else:  # a freed entry's address given to a new call
                    new.append((pointer, kind, args))
        if redo is not None:
            pointer, kind, args = redo
            first_context = self._seen[pointer][2]  # the redone call starts from where the first one did
            records.append(action_record("ed.undo", {}, before, False))
            records.append(action_record(kind, args, first_context, self.edit_of(kind)))
            self._seen[pointer] = (kind, _key(args), first_context)
        else:
            records += [action_record("ed.undo", {}, before, False) for _ in range(min(undos, MAX_UNDOS_PER_LOOK))]
        records += [action_record("ed.redo", {}, before, False) for _ in range(min(redos, MAX_UNDOS_PER_LOOK))]
        explained = redo is not None or undos or redos or any(switches_mode(kind, args) for _, kind, args in new)
        switched = not explained and object_mode and self._context and context.get("mode") != self._context.get("mode")
        switch_at = self._switch_position(new) if switched else None
        for position, call in enumerate([*new, None]):
            # calls after the first of one look ran in a selection this look did not see: no names
            made_in = before if position == 0 else without_names(before)
            if position == switch_at:
                records.append(action_record("object.mode_set", {} if object_mode == "OBJECT" else {"mode": object_mode}, made_in, True))
            if call is None:
                break
            pointer, kind, args = call
            if switch_at is not None and position >= switch_at:
                made_in = {**made_in, "mode": context["mode"]}  # after the switch, which changes no selection
            records.append(action_record(kind, args, made_in, self.edit_of(kind)))
            self._seen[pointer] = (kind, _key(args), dict(made_in))
        self._seen = {pointer: value for pointer, value in self._seen.items() if pointer in present}
        if current:
            self._last_pointer = current[-1][0]
        self._context = dict(context)
        return records

    def _switch_position(self, new):
        """Where a mode switch goes among the ``new`` calls of one look: after the last one that cannot
        run in the mode now (it ran before the switch), so before the first that can."""
        return max((position + 1 for position, (_, kind, _) in enumerate(new) if not self.polls_now(kind)), default=0)

    def _read(self, entries):
        """``(pointer, kind, args)`` for each readable entry; one freed meanwhile is skipped, and one that
        cannot be read otherwise is added to ``unreadable`` (once)."""
        out = []
        for entry in list(entries):
            try:
                pointer, kind, settings = entry_fields(entry)
            except ReferenceError:  # freed since the list was taken
                continue
            except (AttributeError, RuntimeError, TypeError) as error:
                self._unreadable_entry(None, "a history entry", error)
                continue
            try:
                out.append((pointer, kind, properties_to_args(settings)))
            except (AttributeError, ReferenceError, RuntimeError, TypeError) as error:
                self._unreadable_entry(pointer, kind, error)
        return out

    def _unreadable_entry(self, pointer, kind, error):
        if pointer not in self._unreadable_pointers:
            self._unreadable_pointers.add(pointer)
            self.unreadable.append((kind, f"{type(error).__name__}: {error}"))


def _key(args):
    return json.dumps(args, sort_keys=True)

