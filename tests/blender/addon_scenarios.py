"""Scenarios for tests/blender/test_addon.py, each run in its own bpy process (one scene per process).

``python addon_scenarios.py SCENARIO ZIP RESULT.json [ARG]``: installs the add-on zip into a fresh
bpy (user resources under $BLENDER_USER_RESOURCES), runs the scenario and writes what it saw to
RESULT.json. Background Blender keeps no operator history, so the recorder is fed entries shaped
the way Blender holds them: ``as_pointer()``, ``bl_idname`` and real operator properties.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import types

import bpy

ADDON = "bl_ext.user_default.nep_suggest"


class HistoryEntry:
    """One ``window_manager.operators`` entry: a pointer, ``MESH_OT_x`` and a real OperatorProperties."""

    def __init__(self, pointer, bl_idname, properties):
        self.pointer = pointer
        self.bl_idname = bl_idname
        self.properties = properties

    def as_pointer(self):
        return self.pointer

    def path_resolve(self, path):
        return {"bl_idname": self.bl_idname, "properties": self.properties}[path]


def properties(kind, **values):
    """Real operator properties of ``kind`` with ``values`` set (``TRANSFORM_OT_translate={...}`` nests)."""
    props = bpy.context.window_manager.operator_properties_last(kind)
    for name, value in values.items():
        if isinstance(value, dict):
            for sub_name, sub_value in value.items():
                setattr(getattr(props, name), sub_name, sub_value)
        else:
            setattr(props, name, value)
    return props


def install(zip_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    result = bpy.ops.extensions.package_install_files(repo="user_default", filepath=zip_path, enable_on_install=True)
    return sorted(result)


def modules():
    return sys.modules[ADDON], sys.modules[f"{ADDON}.runtime"], sys.modules[f"{ADDON}.bpy_calls"]


def preferences():
    return bpy.context.preferences.addons[ADDON].preferences


def registered(runtime):
    keymap = bpy.context.window_manager.keyconfigs.addon.keymaps.get("3D View")
    items = [(item.idname, item.type, item.alt) for item in keymap.keymap_items] if keymap else []
    return {
        "enabled": ADDON in bpy.context.preferences.addons,
        "panel": hasattr(bpy.types, "NEP_PT_suggestions"),
        "accept_operator": hasattr(bpy.types, "NEP_OT_accept"),
        "keymap": [item for item in items if item[0].startswith("nep.")],
        "timer": bpy.app.timers.is_registered(runtime._timer),
        "handlers": sum(handler in handlers for handlers, handler in runtime.HANDLERS),
        "runtime": runtime.RUNTIME is not None,
    }


class FakeLayout:
    """Stands in for UILayout, which exists only while Blender draws a window; records what is drawn."""

    def __init__(self, lines):
        self.lines = lines
        self.scale_y = 1.0

    def row(self, align=False):
        return self

    column = row

    def box(self):
        return self

    def label(self, text="", icon="NONE"):
        self.lines.append(text)

    def prop(self, data, name, text=None, **_options):
        getattr(data, name)
        self.lines.append(f"[{text or name}]")

    def operator(self, idname, text=None, icon="NONE"):
        module, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, module), name), idname
        self.lines.append(f"<{idname}: {text}>")
        return types.SimpleNamespace()


def draw_states(runtime, bpy_calls):
    """What the panel shows in each state; drawing must change nothing."""
    state, prefs = runtime.RUNTIME, preferences()
    panel = bpy.types.NEP_PT_suggestions
    fingerprint, suggestions = bpy_calls.scene_fingerprint(bpy), [
        {"action": {"kind": "object.shade_smooth"}, "probability": 0.62, "confidence": 0.62, "label": "Shade Smooth", "request_id": None, "shown_at": 0.0}
    ]

    def draw():
        lines = []
        panel.draw(types.SimpleNamespace(layout=FakeLayout(lines)), bpy.context)
        return lines

    shown = {}
    for status, message, items in (
        ("waiting", "", []), ("unreachable", "connection refused", []), ("error", "HTTP 401: bad token", []),
        ("ok", "", suggestions), ("ok", "", []),
    ):
        state.status, state.message, state.suggestions = status, message, list(items)
        shown[f"{status}{'+' if items else ''}"] = draw()
    prefs.enabled = False
    shown["off"] = draw()
    prefs.enabled = True
    lines = []
    type(prefs).draw(types.SimpleNamespace(layout=FakeLayout(lines), **{name: getattr(prefs, name) for name in prefs.bl_rna.properties.keys() if name != "rna_type"}), bpy.context)
    shown["preferences"] = lines
    shown["unchanged"] = bpy_calls.scene_fingerprint(bpy) == fingerprint and state.suggestions == []
    return shown


def scenario_install(zip_path, result, _arg):
    result["install"] = install(zip_path)
    _, runtime, bpy_calls = modules()
    prefs = preferences()
    result["preferences"] = {
        name: getattr(prefs, name) for name in ("server_url", "token", "enabled", "record", "min_confidence", "count", "log_folder")
    }
    result["drawn"] = draw_states(runtime, bpy_calls)
    result["labels"] = [
        runtime.call_label("object.shade_smooth", {"keep_sharp_edges": False}),
        runtime.call_label("object.delete", {"confirm": True}),  # the default: left out
        runtime.call_label("mesh.no_such_operator", {}),
        runtime.call_label("transform.rotate", {"value": 1.5707963, "orient_axis": "X"}),
        runtime.call_label("mesh.extrude_region_move", {"TRANSFORM_OT_translate": {"value": [0, 0, 1.5]}}),
        runtime.call_label("object.mode_set", {}),  # the default, mode OBJECT, which the name does not say
        runtime.call_label("object.mode_set", {"mode": "EDIT"}),
        runtime.call_label("transform.rotate", {"value": 1.5707983}),  # a quantized angle; the default axis, Z
        runtime.call_label("object.modifier_add", {}),  # what it adds, the default too
        runtime.call_label("object.origin_set", {}),  # Geometry to Origin: it moves the mesh
        runtime.call_label("object.light_add", {"type": "SUN"}),
    ]
    bpy.ops.mesh.primitive_cube_add()
    result["apply_without_a_modifier"] = runtime.runnable_now("object.modifier_apply", {})
    bpy.ops.object.modifier_add(type="BEVEL")
    result["apply_label"] = runtime.call_label("object.modifier_apply", {}, runtime.acted_on("object.modifier_apply", {}))
    result["apply_with_a_modifier"] = runtime.runnable_now("object.modifier_apply", {})
    result["after_install"] = registered(runtime)
    result["disable"] = sorted(bpy.ops.preferences.addon_disable(module=ADDON))
    result["after_disable"] = registered(runtime)
    result["enable"] = sorted(bpy.ops.preferences.addon_enable(module=ADDON))
    _, runtime, _ = modules()
    result["after_enable"] = registered(runtime)
    result["reload"] = sorted(bpy.ops.script.reload())  # F3 > Reload Scripts
    _, runtime, _ = modules()
    result["after_reload"] = registered(runtime)
    bpy.ops.preferences.addon_disable(module=ADDON)
    result["after_second_disable"] = registered(runtime)


def scenario_record(zip_path, result, log_folder):
    install(zip_path)
    _, runtime, bpy_calls = modules()
    preferences().log_folder = log_folder
    preferences().enabled = False  # recording only: no server in this scenario
    preferences().server_url = "http://127.0.0.1:1"
    state = runtime.RUNTIME
    state.tick(entries=[])
    bpy.ops.ed.undo_push(message="start")

    bpy.ops.mesh.primitive_cube_add(size=3.0, location=(1.0, 2.0, 3.0))
    bpy.ops.ed.undo_push(message="Add Cube")
    cube = HistoryEntry(1001, "MESH_OT_primitive_cube_add", properties("mesh.primitive_cube_add", size=3.0, location=(1.0, 2.0, 3.0)))
    state.tick(entries=[cube])
    state.tick(entries=[cube])  # seen: nothing new
    cube.properties.size = 4.0  # the redo panel re-ran it with a new size
    state.tick(entries=[cube])
    state.tick(entries=[cube])

    bpy.ops.object.mode_set(mode="EDIT")  # Tab: object.mode_set never enters the history
    bpy.ops.ed.undo_push(message="Toggle Edit Mode")
    state.tick(entries=[cube])

    extrude = HistoryEntry(
        1002, "MESH_OT_extrude_region_move", properties("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": (0.0, 0.0, 1.5)})
    )
    select = HistoryEntry(1003, "MESH_OT_select_all", properties("mesh.select_all", action="DESELECT"))
    state.tick(entries=[cube, extrude, select])  # two new entries in one look, in order
    state.tick(entries=[extrude, select])  # the oldest entry dropped off the list: nothing new

    shown = {"action": {"kind": "object.shade_flat"}, "probability": 0.4, "confidence": 0.4, "label": "Shade Flat", "request_id": "r1", "shown_at": state.now()}
    state.suggestions = [shown]  # as if the server had suggested it
    reused = HistoryEntry(1002, "OBJECT_OT_shade_smooth", properties("object.shade_smooth"))
    state.tick(entries=[select, reused])  # the user did something else, at a freed entry's address
    result["suggestions_after_ignoring"] = len(state.suggestions)

    bpy.ops.mesh.primitive_cube_add("EXEC_DEFAULT", True, size=0.5)  # Blender's own undo system
    bpy.ops.ed.undo()  # Ctrl+Z clears the history; the undo_post handler counts it
    state.tick(entries=[])
    bpy.ops.ed.redo()
    state.tick(entries=[])

    exporter = HistoryEntry(1004, "WM_OT_obj_export", properties("wm.obj_export", filepath="/home/someone/secret.obj", global_scale=2.0))
    state.tick(entries=[exporter])
    result["session"] = state.session_id
    result["log"] = state._log.path
    result["log_file"] = os.path.join(log_folder, f"{state.session_id}.jsonl")
    blend = os.path.join(log_folder, "..", "model.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    bpy.ops.wm.open_mainfile(filepath=blend)  # another document: a new session
    state = runtime.RUNTIME
    bpy.ops.object.mode_set(mode="OBJECT")
    state.tick(entries=[])
    result["second_session"] = state.session_id
    result["second_log"] = state._log.path if state._log else None


def scenario_serve(zip_path, result, arg):
    """Unreachable server first, then a real `nep serve`: suggestions, Accept, refusals, Dismiss, feedback."""
    settings = json.loads(arg)
    install(zip_path)
    _, runtime, bpy_calls = modules()
    prefs = preferences()
    prefs.log_folder = log_folder = settings["logs"]
    prefs.min_confidence = 0.0
    state = runtime.RUNTIME
    ticks = []

    def tick(entries=()):
        started = time.perf_counter()
        state.tick(entries=list(entries))
        ticks.append(time.perf_counter() - started)

    def tick_until(condition, seconds=60.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            tick(history)
            if condition():
                return True
            time.sleep(0.05)
        return False

    history = []
    state._entries = lambda: list(history)  # Accept looks at the history the ticks are given
    prefs.server_url = settings["closed_url"]
    result["unreachable"] = tick_until(lambda: state.status == "unreachable", 20)
    result["unreachable_message"] = state.message
    prefs.server_url = settings["url"]
    prefs.token = "wrong-token"
    result["refused_token"] = tick_until(lambda: state.status == "error", 20)
    result["refused_token_message"] = state.message
    prefs.token = settings["token"]

    bpy.ops.ed.undo_push(message="start")
    bpy.ops.mesh.primitive_cube_add()
    bpy.ops.ed.undo_push(message="Add Cube")
    history.append(HistoryEntry(2001, "MESH_OT_primitive_cube_add", properties("mesh.primitive_cube_add")))
    tick(history)
    client = state.client
    deadline = time.monotonic() + 10
    while client.busy() and time.monotonic() < deadline:  # the request for this history is on the wire
        time.sleep(0.01)
    bpy.ops.object.mode_set(mode="EDIT")
    bpy.ops.ed.undo_push(message="Toggle Edit Mode")
    result["stale_generation"] = state.generation
    result["got_suggestions"] = tick_until(lambda: state.status == "ok" and state.suggestions and state.generation > result["stale_generation"])
    result["suggestions"] = [dict(item) for item in state.suggestions]
    result["stale_answers"] = state.stale_answers

    time.sleep(0.3)  # a person reads the suggestion first; meanwhile the server speculates on its Accept
    before = bpy_calls.scene_fingerprint(bpy)
    # As a button or a shortcut calls it: with undo, so the call it runs pushes its own undo step.
    result["accept"] = sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0))
    result["scene_changed"] = bpy_calls.scene_fingerprint(bpy) != before
    result["outcome_after_accept"] = state.outcome
    # the next answer, which the server speculated on while the suggestion was shown (refusals below drop speculations)
    result["suggested_again"] = tick_until(lambda: state.status == "ok" and bool(state.suggestions))
    suggested_again = list(state.suggestions)

    shown_at = state.now()
    marker = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nep-addon-code-ran-{os.getpid()}")
    refused = [
        {"kind": "mesh.no_such_operator"},  # not an operator of this Blender
        {"kind": "mesh.inset", "args": {"thickness": "thick"}},  # an ill-typed property
        {"kind": "object.select_all", "args": {"action": "SELECT"}},  # not an edit
        {"kind": "script.python_file_run", "args": {"filepath": "/tmp/evil.py"}},  # runs code
        {"kind": "image.save_as", "args": {"filepath": "/tmp/out.png"}},  # a file path
        # bpy.ops finds these spellings too; context_set_value exec()s its value (a hostile server's suggestion)
        {"kind": "WM.context_set_value", "args": {"data_path": "scene.frame_current", "value": f"__import__('pathlib').Path({marker!r}).write_text('x') or 7"}},
        {"kind": "SCRIPT.python_file_run", "args": {}},
    ]
    state.suggestions = [
        {"action": action, "probability": 0.2, "confidence": 0.2, "label": "Shade Smooth", "request_id": None, "shown_at": shown_at,
         "generation": state.generation}
        for action in refused
    ]
    unchanged = bpy_calls.scene_fingerprint(bpy)
    result["refusals"] = []
    for _ in refused:
        returned = sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0))
        result["refusals"].append([returned, state.outcome])
    result["refusals_left_scene_alone"] = bpy_calls.scene_fingerprint(bpy) == unchanged
    result["refused_code_ran"] = os.path.exists(marker)

    state.suggestions = suggested_again
    result["dismissed_label"] = state.suggestions[0]["label"] if state.suggestions else None
    result["dismiss"] = sorted(bpy.ops.nep.dismiss("EXEC_DEFAULT", True, index=0))
    result["feedback_delivered"] = tick_until(lambda: state.feedback_sent >= 9 and not state.client.busy(), 30)
    result["feedback_sent"] = state.feedback_sent
    result["session"] = state.session_id
    result["log_file"] = os.path.join(log_folder, f"{state.session_id}.jsonl")
    bpy.ops.ed.undo()  # the accepted call was one undo step: one undo brings the scene back
    result["one_undo_restores"] = bpy_calls.scene_fingerprint(bpy) == before
    shown = [item["action"] for item in result["suggestions"]]
    result["shown_were_runnable"] = all(runtime.runnable_now(action["kind"], action.get("args") or {}) for action in shown)
    result["inset_runnable_in_edit_mode"] = runtime.runnable_now("mesh.inset", {"thickness": 0.1})
    bpy.ops.object.mode_set(mode="OBJECT")
    result["inset_runnable_in_object_mode"] = runtime.runnable_now("mesh.inset", {"thickness": 0.1})
    result["unknown_runnable"] = runtime.runnable_now("mesh.no_such_operator", {})
    result["max_tick_seconds"] = max(ticks)
    result["ticks"] = len(ticks)
    bpy.ops.preferences.addon_disable(module=ADDON)
    client._thread.join(5)  # unregister does not wait for it
    result["client_stopped"] = not client._thread.is_alive()


class StubClient:
    """Stands in for the add-on's ServerClient: keeps the jobs the runtime submits and hands back the
    answers a test gives it, as a server would."""

    def __init__(self, runtime):
        self.jobs = []
        self._answers = []
        state, prefs = runtime.RUNTIME, preferences()
        state.client, state._settings = self, (prefs.server_url, prefs.token)

    def answer(self, suggestions, **fields):
        """Answer the newest suggestion request with ``suggestions`` (and the answer's other ``fields``)."""
        job = next(job for job in reversed(self.jobs) if job["kind"] == "suggest")
        result_type = sys.modules[f"{ADDON}.client"].Result
        self._answers.append(result_type(job, True, body={"suggestions": suggestions, "request_id": "r1", **fields}))

    def feedback(self):
        return [job["payload"] for job in self.jobs if job["kind"] == "feedback"]

    def submit(self, job):
        self.jobs.append(job)

    def results(self):
        answers, self._answers = self._answers, []
        return answers

    def busy(self):
        return False

    def configure(self, url, token=""):
        pass

    def close(self, wait=1.0):
        pass


def user_call(kind, **args):
    """Run an operator as a click in Blender's UI does: as an undo step, kept in the operator history."""
    module, name = kind.split(".")
    return sorted(getattr(getattr(bpy.ops, module), name)("EXEC_DEFAULT", True, **args))


def offered(kind, args=None, probability=0.5, label="", **extra):
    action = {"kind": kind, **({"args": args} if args else {})}
    return {"action": action, "probability": probability, "label": label or kind, **extra}


def show(state, stub, suggestions):
    """One tick asks, the stub answers ``suggestions``, the next tick shows them."""
    state.tick()
    stub.answer(suggestions)
    state.tick()
    return [item["label"] for item in state.suggestions]


def draw_panel():
    lines = []
    bpy.types.NEP_PT_suggestions.draw(types.SimpleNamespace(layout=FakeLayout(lines)), bpy.context)
    return lines


def scenario_hostile(zip_path, result, _arg):
    """A server's labels and strings: the panel names what Accept would run; a free string never runs."""
    install(zip_path)
    _, runtime, _ = modules()
    prefs = preferences()
    prefs.min_confidence, prefs.count, prefs.record = 0.0, 10, False
    state = runtime.RUNTIME
    stub = StubClient(runtime)
    bpy.ops.ed.undo_push(message="start")
    user_call("mesh.primitive_cube_add")
    cube = bpy.context.active_object
    cube.modifiers.new("Bevel", "BEVEL")
    cube.modifiers.new("Array", "ARRAY")
    data_paths = {"list_path": "object.modifiers", "active_index_path": "preferences.edit.undo_memory_limit", "direction": "DOWN"}
    result["shown"] = show(state, stub, [
        offered("mesh.primitive_grid_add", {"x_subdivisions": 990000, "y_subdivisions": 990000}, 0.9, "Add Grid (size 1)"),
        offered("object.delete", {}, 0.5, "Delete Loose\nreally harmless"),
        offered("object.modifier_add", {"type": "BOOLEAN"}, 0.4, "Add Modifier (type BEVEL)"),
        offered("object.shade_smooth", {}, 0.9, "Shade Smooth", confidence=7.0),
        offered("object.shade_flat", {}, 1.5, "Shade Flat"),
        offered("uilist.entry_move", data_paths, 0.3, "Move Entry"),
        offered("object.modifier_apply", {"modifier": "Array"}, 0.2, "Apply Modifier"),
    ])
    result["confidences"] = [item["confidence"] for item in state.suggestions]
    result["panel"] = draw_panel()
    description = bpy.types.NEP_OT_accept.description
    result["tooltips"] = [description(bpy.context, types.SimpleNamespace(index=index)) for index in range(len(state.suggestions))]
    result["accept_enum"] = [sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=2)), state.outcome]
    result["modifiers"] = [modifier.type for modifier in cube.modifiers]

    limit = bpy.context.preferences.edit.undo_memory_limit
    result["free_strings"] = []
    for kind, args in (("uilist.entry_move", data_paths), ("object.modifier_apply", {"modifier": "Array"})):
        state.suggestions = [dict(offered(kind, args), confidence=0.5, generation=state.generation)]
        result["free_strings"].append([sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0)), state.outcome])
    result["undo_memory_limit_unchanged"] = bpy.context.preferences.edit.undo_memory_limit == limit
    result["modifiers_after"] = [modifier.type for modifier in cube.modifiers]


def logging_runtime(zip_path, log_folder):
    """The add-on installed, showing every suggestion and logging to ``log_folder``, with a stub client and an undo step to return to."""
    install(zip_path)
    _, runtime, _ = modules()
    prefs = preferences()
    prefs.min_confidence, prefs.log_folder = 0.0, log_folder
    stub = StubClient(runtime)
    bpy.ops.ed.undo_push(message="start")
    return runtime.RUNTIME, stub


def scenario_race(zip_path, result, log_folder):
    """The user runs an operator and accepts within one timer period (no tick between)."""
    state, stub = logging_runtime(zip_path, log_folder)
    user_call("mesh.primitive_cube_add")
    result["shown"] = show(state, stub, [offered("object.shade_smooth")])
    asked = len([job for job in stub.jobs if job["kind"] == "suggest"])
    user_call("transform.translate", value=(1.0, 0.0, 0.0))
    result["accept"] = sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0))
    result["outcome"] = state.outcome
    result["smooth"] = any(polygon.use_smooth for polygon in bpy.context.active_object.data.polygons)
    result["events"] = [event["action"]["kind"] for event in state.events]
    result["feedback"] = [(item["outcome"], item.get("actual", {}).get("kind")) for item in stub.feedback()]
    result["log"] = state._log.path
    state.tick()
    result["asked_again"] = len([job for job in stub.jobs if job["kind"] == "suggest"]) > asked and state.status == "waiting"
    stub.answer([offered("object.shade_smooth")])
    state.tick()
    result["accept_fresh"] = sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0))
    result["smooth_after"] = all(polygon.use_smooth for polygon in bpy.context.active_object.data.polygons)


def scenario_same_call(zip_path, result, log_folder):
    """A primitive added in the UI and the same one added by Accept; then File > New."""
    state, stub = logging_runtime(zip_path, log_folder)
    state.tick()
    user_call("mesh.primitive_cube_add", size=0.5, location=(1.0, 0.0, 0.0))
    show(state, stub, [offered("mesh.primitive_cube_add", {"size": 0.5, "location": [1.0, 0.0, 0.0]})])  # as the server writes it
    result["accept"] = sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0))
    result["outcome"] = state.outcome
    result["log"] = state._log.path
    bpy.ops.wm.read_homefile()  # File > New: a new session
    result["outcome_after_new_file"] = state.outcome


def scenario_record_off(zip_path, result, log_folder):
    """With Record off nothing of the session goes to the server's feedback log; back on, only what follows."""
    install(zip_path)
    _, runtime, _ = modules()
    prefs = preferences()
    prefs.min_confidence, prefs.log_folder, prefs.record = 0.0, log_folder, False
    state = runtime.RUNTIME
    stub = StubClient(runtime)
    bpy.ops.ed.undo_push(message="start")
    user_call("mesh.primitive_cube_add")
    show(state, stub, [offered("object.shade_smooth"), offered("object.shade_flat")])
    bpy.ops.nep.dismiss("EXEC_DEFAULT", True, index=1)
    user_call("transform.translate", value=(1.0, 0.0, 0.0))  # passes the shown suggestion over
    show(state, stub, [offered("object.shade_smooth")])
    bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0)
    result["feedback_while_off"] = stub.feedback()
    result["events_while_off"] = len(state.events)

    prefs.record = True
    user_call("object.shade_flat")
    show(state, stub, [offered("object.shade_smooth")])
    bpy.ops.nep.dismiss("EXEC_DEFAULT", True, index=0)
    result["feedback_after"] = stub.feedback()
    result["logs"] = sorted(os.listdir(log_folder))


def scenario_log_folder(zip_path, result, folder):
    """A log folder that cannot be written: the panel says so."""
    install(zip_path)
    _, runtime, _ = modules()
    prefs = preferences()
    prefs.enabled, prefs.log_folder = False, folder
    state = runtime.RUNTIME
    bpy.ops.ed.undo_push(message="start")
    state.tick()
    user_call("mesh.primitive_cube_add")
    state.tick()
    result["panel"] = draw_panel()
    prefs.log_folder = os.path.join(os.path.dirname(os.path.dirname(folder)), "good")
    result["panel_other_folder"] = draw_panel()
    os.chdir(os.path.dirname(os.path.dirname(folder)))  # where an unsaved file's // folder went
    prefs.log_folder = "//nep_logs/"  # next to the .blend file: Blender leaves it to the add-on
    user_call("object.shade_smooth")
    state.tick()
    result["panel_relative"] = draw_panel()
    result["relative_written"] = os.path.exists("nep_logs") or os.path.exists("/nep_logs")


def scenario_reload(zip_path, result, _arg):
    """Which of the add-on's modules Reload Scripts runs again: each gets one of its names replaced first."""
    install(zip_path)
    names = {"bpy_calls": "check_call", "recorder": "is_edit", "client": "fit", "feedback": "feedback_record",
             "sessionlog": "utc_now", "preferences": "get", "runtime": "unsafe_reason", "ui": "_suggestion"}
    for module, name in names.items():
        setattr(sys.modules[f"{ADDON}.{module}"], name, "stale")
    bpy.utils.load_scripts(reload_scripts=True)  # what Reload Scripts runs (script.reload defers it to an event loop)
    result["run_again"] = {module: getattr(sys.modules[f"{ADDON}.{module}"], name) != "stale" for module, name in names.items()}
    _, runtime, _ = modules()
    result["after_reload"] = registered(runtime)


def scenario_network(zip_path, result, closed_url):
    """A server that answers past the timeout, one that is shutting down (503), none; then the add-on is
    disabled while a request waits on a server that never answers."""
    import http.server
    import socket
    import threading

    class ShuttingDown(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"detail": "the server is shutting down"}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    busy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ShuttingDown)
    threading.Thread(target=busy.serve_forever, daemon=True).start()
    silent = socket.socket()  # takes connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)

    install(zip_path)
    _, runtime, _ = modules()
    runtime.REQUEST_TIMEOUT = 0.5
    prefs = preferences()
    prefs.record = False
    state = runtime.RUNTIME

    def status_with(url, status):
        prefs.server_url = url
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state.tick()
            if state.status == status:
                break
            time.sleep(0.05)
        return [state.status, draw_panel()]

    result["slow"] = status_with(f"http://127.0.0.1:{silent.getsockname()[1]}", "slow")
    result["busy"] = status_with(f"http://127.0.0.1:{busy.server_address[1]}", "busy")
    result["unreachable"] = status_with(closed_url, "unreachable")

    prefs.server_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    state.tick()
    state.client.timeout = 30.0  # the request below waits that long for its answer
    state.refresh()
    state.tick()
    time.sleep(0.3)
    thread = state.client._thread
    started = time.perf_counter()
    bpy.ops.preferences.addon_disable(module=ADDON)
    result["disable_seconds"] = time.perf_counter() - started
    result["worker_is_daemon"] = thread.daemon


def logged(state):
    """``[kind, args, mode]`` of each action the session logged."""
    return [[event["action"]["kind"], event["action"].get("args", {}), event["action"]["context"]["mode"]]
            for event in state.events if "action" in event]


def scenario_apply_scale(zip_path, result, log_folder):
    """Ctrl+A > Apply Scale: ``object.transform_apply`` has a property named ``properties`` (Apply
    Properties), which hides its history entry's settings; then an entry that cannot be read at all."""
    state, _ = logging_runtime(zip_path, log_folder)
    state.tick()
    user_call("mesh.primitive_cube_add")
    state.tick()
    user_call("object.transform_apply", location=False, rotation=False, scale=True)
    state.tick()
    result["history"] = [entry.bl_idname for entry in bpy.context.window_manager.operators]
    unreadable = HistoryEntry(9001, "OBJECT_OT_shade_smooth", object())  # settings without an RNA
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        state.tick(entries=[*state._entries(), unreadable])
        state.tick(entries=[*state._entries(), unreadable])  # said once
    result["events"] = logged(state)
    result["console"] = console.getvalue()
    result["panel"] = draw_panel()


def scenario_quick_tab(zip_path, result, log_folder):
    """Tab (which leaves no history entry) and another operator within one timer period, both ways round."""
    state, _ = logging_runtime(zip_path, log_folder)
    state.tick()
    user_call("mesh.primitive_cube_add")
    state.tick()
    bpy.ops.object.mode_set(mode="EDIT")  # Tab, then A
    user_call("mesh.select_all", action="DESELECT")
    state.tick()
    user_call("mesh.subdivide")  # Subdivide, then Tab
    bpy.ops.object.mode_set(mode="OBJECT")
    state.tick()
    bpy.ops.object.mode_set(mode="EDIT")  # Tab alone
    state.tick()
    bpy.ops.object.mode_set(mode="OBJECT")  # Tab, then Ctrl+A > Apply Scale
    user_call("object.transform_apply", location=False, rotation=False, scale=True)
    state.tick()
    user_call("object.editmode_toggle")  # a mode switch that the history holds
    state.tick()
    result["events"] = logged(state)
    result["context_after_tab"] = state.events[2]["action"]["context"]


def scenario_modifier_click(zip_path, result, log_folder):
    """A click on a modifier panel makes it active without an operator, between the suggestion and Accept."""
    state, stub = logging_runtime(zip_path, log_folder)
    user_call("mesh.primitive_cube_add")
    user_call("object.modifier_add", type="BEVEL")
    user_call("object.modifier_add", type="SUBSURF")
    cube = bpy.context.active_object
    cube.modifiers["Bevel"].is_active = True  # a click on the Bevel panel
    result["shown"] = show(state, stub, [offered("object.modifier_apply")])
    cube.modifiers["Subdivision"].is_active = True  # then one on the Subdivision panel
    result["accept"] = [sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0)), state.outcome]
    result["modifiers"] = [modifier.name for modifier in cube.modifiers]
    result["shown_again"] = show(state, stub, [offered("object.modifier_apply")])
    cube.modifiers.remove(cube.modifiers["Subdivision"])  # a script removes it: no operator either
    result["gone"] = [sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0)), state.outcome]
    result["faces"] = len(cube.data.polygons)
    result["events"] = logged(state)
    result["feedback"] = [[item["outcome"], item.get("actual")] for item in stub.feedback()]
    result["log"] = state._log.path


def scenario_last_used(zip_path, result, log_folder):
    """Accept after the user ran the same operators with other settings: Blender fills a call's unset
    properties with their last-used values, and Accept ran those instead of the defaults it showed."""
    state, stub = logging_runtime(zip_path, log_folder)
    user_call("mesh.primitive_cube_add", size=5.0)
    user_call("object.modifier_add", type="BEVEL")
    cube = bpy.context.active_object
    result["shown"] = show(state, stub, [offered("object.modifier_add")])
    result["accept_modifier"] = [sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0)), state.outcome]
    result["modifiers"] = [modifier.type for modifier in cube.modifiers]
    bpy.context.scene.cursor.location = (0.0, 3.0, 0.0)
    show(state, stub, [offered("mesh.primitive_cube_add", {"location": [4.0, 0.0, 0.0]})])
    result["accept_cube"] = sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0))
    result["cube"] = [list(bpy.context.active_object.dimensions), list(bpy.context.active_object.location)]
    show(state, stub, [offered("mesh.primitive_cube_add")])
    result["accept_at_cursor"] = sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0))
    result["cube_at_cursor"] = [list(bpy.context.active_object.dimensions), list(bpy.context.active_object.location)]
    result["asked_domains"] = sorted({job["payload"].get("domain") for job in stub.jobs if job["kind"] == "suggest"})
    result["events"] = logged(state)


def scenario_by_hand(zip_path, result, log_folder):
    """The user does by hand exactly what the panel suggests, then something else than the next suggestion."""
    state, stub = logging_runtime(zip_path, log_folder)
    state.tick()
    user_call("mesh.primitive_cube_add")
    result["shown"] = show(state, stub, [offered("mesh.primitive_cube_add", {"size": 0.5, "location": [1.0, 0.0, 0.0]})])
    user_call("mesh.primitive_cube_add", size=0.5, location=(1.0, 0.0, 0.0))
    state.tick()
    result["suggestions_after_same"] = len(state.suggestions)
    result["shown_next"] = show(state, stub, [offered("object.shade_smooth")])
    user_call("object.shade_flat")
    state.tick()
    result["feedback"] = [[item["outcome"], item.get("actual", {}).get("kind")] for item in stub.feedback()]
    result["log"] = state._log.path


def scenario_dropped(zip_path, result, log_folder):
    """An answer whose suggestions all failed the server's checks, then one with a suggestion."""
    state, stub = logging_runtime(zip_path, log_folder)
    state.tick()
    stub.answer([], dropped=2, best_is_no_edit=True)
    state.tick()
    result["panel_dropped"] = draw_panel()
    result["shown"] = show(state, stub, [offered("object.shade_smooth")])
    state.refresh()
    stub.answer([])
    state.tick()
    result["panel_empty"] = draw_panel()


def scenario_hidden(zip_path, result, log_folder):
    """An answer whose suggestions the panel all hides; an Accept, then Ctrl+Z."""
    state, stub = logging_runtime(zip_path, log_folder)
    preferences().min_confidence = 0.3
    user_call("mesh.primitive_cube_add")
    state.tick()
    stub.answer([offered("object.shade_smooth", probability=0.1), offered("mesh.inset", {"thickness": 0.1}, probability=0.5)])
    state.tick()
    result["panel_hidden"] = draw_panel()
    result["shown"] = show(state, stub, [offered("object.shade_smooth", probability=0.5)])
    result["panel_shown"] = draw_panel()
    bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0)
    result["panel_accepted"] = draw_panel()
    bpy.ops.ed.undo()
    state.tick()
    result["panel_undone"] = draw_panel()
    bpy.context.active_object.hide_set(True)  # Join's poll passes, and the call is cancelled
    bpy.ops.mesh.primitive_cube_add(location=(3.0, 0.0, 0.0))
    bpy.context.active_object.hide_set(True)
    bpy.ops.object.select_all(action="SELECT")
    show(state, stub, [offered("object.join", probability=0.5, label="Join")])
    bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0)
    result["join_outcome"] = state.outcome


def scenario_server_url(zip_path, result, port):
    """The unreachable box for a server URL on another port than 8765, and for one without http://."""
    install(zip_path)
    _, runtime, _ = modules()
    prefs = preferences()
    prefs.record = False
    state = runtime.RUNTIME
    for name, url in (("other_port", f"http://127.0.0.1:{port}"), ("no_scheme", f"127.0.0.1:{port}")):
        prefs.server_url = url
        state.refresh()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and state.status != "unreachable":
            state.tick()
            time.sleep(0.05)
        lines = []
        values = {key: getattr(prefs, key) for key in prefs.bl_rna.properties.keys() if key != "rna_type"}
        type(prefs).draw(types.SimpleNamespace(layout=FakeLayout(lines), **values), bpy.context)
        result[name] = {"status": state.status, "panel": draw_panel(), "preferences": lines}


def default_keymap_bindings(key, modifiers):
    """The names of the keymaps of Blender's default keyconfig (blender_default.py) that the 3D View can
    reach (not modal, not another editor's) and that bind ``key`` with ``modifiers``."""
    folder = bpy.utils.system_resource("SCRIPTS", path=os.path.join("presets", "keyconfig"))
    sys.path.insert(0, folder)
    from keymap_data import blender_default

    found = []
    for name, space, content in blender_default.generate_keymaps(blender_default.Params()):
        if space.get("modal") or space.get("space_type") not in ("EMPTY", "VIEW_3D"):
            continue
        for _, event, _ in content["items"]:
            same_modifiers = event.get("any") or all(
                bool(event.get(modifier)) == bool(modifiers.get(modifier)) for modifier in ("shift", "ctrl", "alt", "oskey", "hyper"))
            if event.get("type") == key and same_modifiers and not event.get("key_modifier"):
                found.append(name)
    return sorted(set(found))


def scenario_shortcuts(zip_path, result, _arg):
    """The add-on's shortcuts against Blender's default keymap, and the panel's footer in text edit mode."""
    install(zip_path)
    shortcuts = sys.modules[f"{ADDON}.ui"].SHORTCUTS
    result["declared"] = {idname: list(modes) for idname, _, _, _, modes in shortcuts}
    result["bound_by_blender"] = {idname: default_keymap_bindings(key, modifiers) for idname, key, modifiers, _, _ in shortcuts}
    result["tab_bound_by_blender"] = default_keymap_bindings("TAB", {})  # the search finds a binding it knows
    result["footer_object_mode"] = draw_panel()
    bpy.ops.object.text_add()
    bpy.ops.object.mode_set(mode="EDIT")
    result["mode"] = bpy.context.mode
    result["footer_text_edit"] = draw_panel()


SCENARIOS = {
    "install": scenario_install, "record": scenario_record, "serve": scenario_serve, "hostile": scenario_hostile,
    "race": scenario_race, "same_call": scenario_same_call, "record_off": scenario_record_off,
    "log_folder": scenario_log_folder, "reload": scenario_reload, "network": scenario_network,
    "apply_scale": scenario_apply_scale, "quick_tab": scenario_quick_tab, "modifier_click": scenario_modifier_click,
    "by_hand": scenario_by_hand, "last_used": scenario_last_used, "hidden": scenario_hidden, "dropped": scenario_dropped, "server_url": scenario_server_url, "shortcuts": scenario_shortcuts,
}


def main():
    name, zip_path, result_path = sys.argv[1:4]
    arg = sys.argv[4] if len(sys.argv) > 4 else ""
    result = {}
    try:
        SCENARIOS[name](zip_path, result, arg)
    except Exception:
        import traceback

        result["error"] = traceback.format_exc()
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1, default=str)


if __name__ == "__main__":
    main()
