"""The sidebar panel (3D View > N > NEP), the Accept / Dismiss / Retry operators and their shortcuts."""

import textwrap

import bpy

from . import preferences, runtime

SHORTCUTS = (
    # (operator, key, modifiers, what the panel's footer says, modes whose keymap binds the same key)
    ("nep.accept", "RET", {"alt": True}, "Alt+Enter accept", ()),
    ("nep.dismiss", "BACK_SPACE", {"alt": True}, "Alt+Backspace dismiss", ("EDIT_TEXT",)),
)
"""Bound in the 3D View keymap, which Blender evaluates after the keymap of the object's mode. Blender's
default keymap (``blender_default.py`` of bpy 5.0.1) binds neither key anywhere the 3D View reaches but
in text edit mode: its "Font" keymap types an accent with Alt+Backspace (``font.text_insert(accent=True)``),
which comes first there, so Dismiss is the x button in that mode (the footer leaves the shortcut out)."""
_keymap_items = []


def _suggestion(index):
    state = runtime.RUNTIME
    if state is not None and 0 <= index < len(state.suggestions):
        return state.suggestions[index]
    return None


class NEP_OT_accept(bpy.types.Operator):
    """Run the suggested operator with its settings, as one undo step"""

    bl_idname = "nep.accept"
    bl_label = "Accept Suggestion"
    bl_options = {"INTERNAL"}

    index: bpy.props.IntProperty(name="Suggestion", default=0, min=0, options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return runtime.RUNTIME is not None and bool(runtime.RUNTIME.suggestions)

    @classmethod
    def description(cls, context, properties):
        suggestion = _suggestion(properties.index)
        if suggestion is None:
            return cls.__doc__
        return f"Run {suggestion['label']} ({suggestion['confidence']:.0%}) as one undo step"

    def execute(self, context):
        accepted, message = runtime.RUNTIME.accept(self.index, context)
        self.report({"INFO"} if accepted else {"WARNING"}, message)
        return {"FINISHED"} if accepted else {"CANCELLED"}


class NEP_OT_dismiss(bpy.types.Operator):
    """Hide this suggestion and tell NEP it was not wanted"""

    bl_idname = "nep.dismiss"
    bl_label = "Dismiss Suggestion"
    bl_options = {"INTERNAL"}

    index: bpy.props.IntProperty(name="Suggestion", default=0, min=0, options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        return runtime.RUNTIME is not None and bool(runtime.RUNTIME.suggestions)

    def execute(self, context):
        dismissed, message = runtime.RUNTIME.dismiss(self.index)
        return {"FINISHED"} if dismissed else {"CANCELLED"}


class NEP_OT_refresh(bpy.types.Operator):
    """Ask the NEP server for suggestions again now"""

    bl_idname = "nep.refresh"
    bl_label = "Ask Again"
    bl_options = {"INTERNAL"}

    @classmethod
    def poll(cls, context):
        return runtime.RUNTIME is not None

    def execute(self, context):
        runtime.RUNTIME.refresh()
        return {"FINISHED"}


def _wrapped(layout, text, width=38, icon="NONE"):
    for number, line in enumerate(textwrap.wrap(text, width) or [""]):
        layout.label(text=line, icon=icon if number == 0 else "BLANK1" if icon != "NONE" else "NONE")


class NEP_PT_suggestions(bpy.types.Panel):
    """Reads the add-on's state only: it never changes data or runs operators."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "NEP"
    bl_label = "Next Operator"

    def draw(self, context):
        layout = self.layout
        prefs = preferences.get()
        state = runtime.RUNTIME
        if prefs is None or state is None:
            layout.label(text="NEP is not running")
            return
        row = layout.row()
        row.prop(prefs, "enabled", text="Suggest")
        row.prop(prefs, "record", text="Record")
        if not prefs.enabled:
            layout.label(text="Suggestions are off", icon="PAUSE")
        elif state.status == "unreachable":
            box = layout.box()
            try:
                command = preferences.start_command(prefs.server_url)
            except ValueError as error:
                box.label(text="NEP server URL malformed", icon="ERROR")
                box.label(text=prefs.server_url)
                _wrapped(box, str(error))
                _wrapped(box, "Set it in Edit > Preferences > Add-ons > NEP.")
            else:
                box.label(text="NEP server unreachable", icon="ERROR")
                box.label(text=prefs.server_url)
                _wrapped(box, state.message)
                box.label(text="Start it in a terminal (ready in seconds):")
                for line in command:
                    box.label(text=line)
                _wrapped(box, "Without --data it first builds the default data set, once, which takes minutes before it listens.")
            box.operator("nep.refresh", icon="FILE_REFRESH")
        elif state.status in ("slow", "busy"):
            box = layout.box()
            heading = "NEP server too slow" if state.status == "slow" else "NEP server busy or shutting down"
            box.label(text=heading, icon="TIME")
            box.label(text=prefs.server_url)
            _wrapped(box, state.message)
            box.operator("nep.refresh", icon="FILE_REFRESH")
        elif state.status == "error":
            box = layout.box()
            _wrapped(box, f"NEP server error: {state.message}", icon="ERROR")
            box.operator("nep.refresh", icon="FILE_REFRESH")
        elif state.suggestions:
            column = layout.column(align=True)
            for index, suggestion in enumerate(state.suggestions):
                row = column.row(align=True)
                accept = row.operator("nep.accept", text=suggestion["label"], icon="CHECKMARK" if index == 0 else "NONE")
                accept.index = index
                row.label(text=f"{suggestion['confidence']:.0%}")
                row.operator("nep.dismiss", text="", icon="X").index = index
        elif state.status in ("waiting", "starting"):
            layout.label(text="Asking the NEP server…", icon="TIME")
        else:
            layout.label(text="Nothing to suggest right now", icon="INFO")
            low, cannot_run = state.hidden_now
            hidden = [f"{low} below your Minimum Confidence" if low else "", f"{cannot_run} cannot run in this mode or selection" if cannot_run else ""]
            if low or cannot_run:
                _wrapped(layout, f"{low + cannot_run} hidden: {'; '.join(part for part in hidden if part)}")
            if state.dropped:  # the server's own checks refused them: not the same as a model with nothing to say
                count = f"{state.dropped} suggestion{'' if state.dropped == 1 else 's'}"
                _wrapped(layout, f"{count} dropped by the server: {'it' if state.dropped == 1 else 'they'} failed its checks")
        if state.outcome:
            _wrapped(layout, state.outcome)
        footer = layout.column()
        footer.scale_y = 0.8
        footer.label(text=" · ".join(shown for _, _, _, shown, taken in SHORTCUTS if context.mode not in taken))
        if state.unrecorded:
            count = f"{state.unrecorded} operator{'' if state.unrecorded == 1 else 's'}"
            _wrapped(footer, f"{count} could not be recorded; see the system console", width=44, icon="ERROR")
        if prefs.record:
            problem = state.log_problem(prefs)
            if problem:
                _wrapped(footer, problem, width=44, icon="ERROR")
            else:
                _wrapped(footer, f"Recording to {preferences.log_folder(prefs)}", width=44)


CLASSES = (NEP_OT_accept, NEP_OT_dismiss, NEP_OT_refresh, NEP_PT_suggestions)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    keyconfig = bpy.context.window_manager.keyconfigs.addon
    if keyconfig is not None:  # None when Blender runs without a window manager's keymaps
        keymap = keyconfig.keymaps.new(name="3D View", space_type="VIEW_3D")
        for idname, key, modifiers, _, _ in SHORTCUTS:
            _keymap_items.append((keymap, keymap.keymap_items.new(idname, key, "PRESS", **modifiers)))


def unregister():
    for keymap, item in _keymap_items:
        keymap.keymap_items.remove(item)
    _keymap_items.clear()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
