"""The NEP Blender add-on in real bpy: built by `nep blender addon`, installed into a fresh bpy, recording
operators, and talking to a real `nep serve` on loopback.

Each bpy scenario runs in its own process (tests/blender/addon_scenarios.py) with its Blender user
folder and HOME in a temporary folder, and writes what it saw to a JSON file checked here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest
from server_helpers import ServeProcess, nep_command
from typer.testing import CliRunner

from nep_core.collector import CollectReport
from nep_core.sessionlog import ReadReport, SessionLogWriter, read_session

pytestmark = pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs bpy (pip install bpy)")

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "addon_scenarios.py"
PACKAGE = HERE.parents[1] / "plugins" / "blender" / "nep_blender"
ADDON_SOURCE = PACKAGE / "addon"
APPKIT = HERE.parents[1] / "nep_core" / "appkit"  # shipped in the zip beside the add-on's modules
OBJECT = {"mode": "OBJECT", "active": "MESH", "selected": 1}
EDIT = {"mode": "EDIT_MESH", "active": "MESH", "selected": 1}


def load_addon_module(name: str):
    """An add-on module that needs only the standard library (recorder, client, sessionlog), loaded from its file."""
    path = ADDON_SOURCE / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"nep_addon_{name}", path if path.exists() else APPKIT / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def addon_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("addon")
    result = subprocess.run([*nep_command(), "blender", "addon", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return out / "nep_suggest-0.1.0.zip", result.stdout


def run_scenario(name: str, zip_path: Path, folder: Path, arg: str = "") -> dict:
    result_path = folder / f"{name}.json"
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(folder / "blender-user"), "HOME": str(folder / "home")}
    process = subprocess.run(
        [sys.executable, str(SCENARIOS), name, str(zip_path), str(result_path), arg],
        capture_output=True, text=True, timeout=180, env=env, cwd=folder,
    )
    assert result_path.exists(), f"scenario {name} wrote no result:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"
    result = json.loads(result_path.read_text())
    assert "error" not in result, result["error"] + process.stderr[-2000:]
    return result


def test_nep_blender_addon_builds_the_extension_zip(addon_build, tmp_path):
    from nep_blender.cli import app, build_addon

    zip_path, stdout = addon_build
    assert f"wrote {zip_path}" in stdout
    assert "Install from Disk" in stdout and f"extension install-file -r user_default -e {zip_path}" in stdout
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        manifest = tomllib.loads(archive.read("blender_manifest.toml").decode())
        shipped_calls = archive.read("bpy_calls.py")
    assert names[0] == "blender_manifest.toml"
    assert {"__init__.py", "recorder.py", "client.py", "runtime.py", "ui.py", "preferences.py", "bpy_calls.py"} <= set(names)
    assert all("/" not in name for name in names)
    assert manifest["id"] == "nep_suggest" and manifest["type"] == "add-on" and manifest["blender_version_min"] == "4.2.0"
    assert manifest["license"] == ["SPDX:Apache-2.0"] and "127.0.0.1" in manifest["permissions"]["network"]
    assert shipped_calls == (PACKAGE / "bpy_calls.py").read_bytes()  # the very file, not a copy in the source tree
    assert not (ADDON_SOURCE / "bpy_calls.py").exists()
    assert build_addon(tmp_path).read_bytes() == zip_path.read_bytes()  # reproducible
    help_text = CliRunner().invoke(app, ["addon", "--help"], terminal_width=200).output
    assert "Example: nep blender addon --out dist" in help_text


def test_blender_validates_the_manifest(addon_build):
    bpy_dir = Path(importlib.util.find_spec("bpy").submodule_search_locations[0])
    validator = next(bpy_dir.glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    result = subprocess.run([sys.executable, str(validator), "validate", str(addon_build[0])], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Success" in result.stdout, result.stdout + result.stderr


def test_the_addon_installs_registers_and_unregisters_cleanly(addon_build, tmp_path):
    result = run_scenario("install", addon_build[0], tmp_path)
    assert result["install"] == ["FINISHED"]
    everything = {
        "enabled": True, "panel": True, "accept_operator": True, "timer": True, "handlers": 3, "runtime": True,
        "keymap": [["nep.accept", "RET", True], ["nep.dismiss", "BACK_SPACE", True]],
    }
    nothing = {"enabled": False, "panel": False, "accept_operator": False, "timer": False, "handlers": 0, "runtime": False, "keymap": []}
    assert result["after_install"] == everything
    assert result["disable"] == ["FINISHED"] and result["after_disable"] == nothing
    assert result["enable"] == ["FINISHED"] and result["after_enable"] == everything
    assert result["reload"] == ["FINISHED"] and result["after_reload"] == everything  # nothing registered twice
    assert result["after_second_disable"] == nothing
    assert result["preferences"] == {
        "server_url": "http://127.0.0.1:8765", "token": "", "enabled": True, "record": True,
        "min_confidence": pytest.approx(0.1), "count": 3, "log_folder": "",
    }
    drawn = result["drawn"]  # the panel, drawn into a stand-in layout: headless Blender has no window to draw
    assert "Asking the NEP server…" in drawn["waiting"]
    assert "NEP server unreachable" in drawn["unreachable"] and "nep serve --domain blender --model ngram" in drawn["unreachable"]
    assert "<nep.refresh: None>" in drawn["unreachable"] and "NEP server error: HTTP 401: bad token" in drawn["error"]
    assert "<nep.accept: Shade Smooth>" in drawn["ok+"] and "62%" in drawn["ok+"] and "<nep.dismiss: >" in drawn["ok+"]
    assert "Nothing to suggest right now" in drawn["ok"] and "Suggestions are off" in drawn["off"]
    assert "Alt+Enter accept · Alt+Backspace dismiss" in drawn["ok+"]
    assert any(line.startswith("Logs go to ") for line in drawn["preferences"]) and drawn["unchanged"]
    assert result["labels"] == [
        "Shade Smooth (keep_sharp_edges False)", "Delete", "mesh.no_such_operator (not in this Blender)",
        "Rotate (value 90°; orient_axis X)", "Extrude Region and Move (value 0, 0, 1.5)",
        "Set Object Mode (mode OBJECT)", "Set Object Mode (mode EDIT)",  # the target mode, the default too
        "Rotate (value 90°; orient_axis Z)", "Add Modifier (type SUBSURF)", "Set Origin (type GEOMETRY_ORIGIN)", "Add Light (type SUN)",
    ]
    # a suggested Apply carries no modifier name: it acts on the active modifier, which the panel names
    assert result["apply_label"] == "Apply Modifier (Bevel)" and result["apply_with_a_modifier"] is True
    assert result["apply_without_a_modifier"] is False
    installed = tmp_path / "blender-user" / "extensions" / "user_default" / "nep_suggest"
    assert (installed / "bpy_calls.py").read_bytes() == (PACKAGE / "bpy_calls.py").read_bytes()
    assert not (tmp_path / "home" / ".config").exists()  # nothing written to the user's own Blender folder


def test_the_recorder_logs_operators_as_blender_holds_them(addon_build, tmp_path):
    logs = tmp_path / "logs"
    result = run_scenario("record", addon_build[0], tmp_path, str(logs))
    assert result["log"] == result["log_file"]
    session = read_session(result["log"])
    assert session.domain == "blender" and session.id == result["session"]
    assert session.meta["source"] == "addon" and session.meta["app"] == "Blender 5.0.1"
    feedback = [(index, event.feedback) for index, event in enumerate(session.events) if event.feedback]
    assert len(feedback) == 1 and result["suggestions_after_ignoring"] == 0
    index, ignored = feedback[0]  # a suggestion was shown, the user ran something else: logged, then what they ran
    assert ignored["suggestion"] == {"kind": "object.shade_flat"} and ignored["accepted"] is False and ignored["outcome"] == "ignored"
    assert session.events[index + 1].action.kind == "object.shade_smooth"
    actions = [event.action for event in session.events if event.action]
    assert [(action.kind, dict(action.args), action.edit) for action in actions] == [
        ("mesh.primitive_cube_add", {"size": 3.0, "location": [1.0, 2.0, 3.0]}, True),
        ("ed.undo", {}, False),  # the redo panel: undo, then the same call with its new settings
        ("mesh.primitive_cube_add", {"size": 4.0, "location": [1.0, 2.0, 3.0]}, True),
        ("object.mode_set", {"mode": "EDIT"}, True),  # Tab, which never enters the history
        ("mesh.extrude_region_move", {"TRANSFORM_OT_translate": {"value": [0.0, 0.0, 1.5]}}, True),
        ("mesh.select_all", {"action": "DESELECT"}, False),
        ("object.shade_smooth", {}, True),  # a new operator at a freed entry's address
        ("ed.undo", {}, False),  # Ctrl+Z and Ctrl+Shift+Z, from Blender's undo handlers
        ("ed.redo", {}, False),
        ("wm.obj_export", {"sort_method": "DEFAULT", "global_scale": 2.0}, False),  # the file path is never logged
    ]
    # the context before the call, with the selection named for the replay
    assert actions[0].context == {"mode": "OBJECT", "active": "NONE", "selected": 0, "active_name": None, "selected_names": []}
    assert actions[1].context == {**OBJECT, "active_name": "Cube", "selected_names": ["Cube"]}
    assert actions[2].context == actions[0].context  # redone from where it started
    assert actions[3].context == actions[1].context and actions[4].context == {**EDIT, "active_name": "Cube", "selected_names": ["Cube"]}
    times = [event.t for event in session.events]
    assert times == sorted(times)

    second = read_session(result["second_log"])  # opening another file starts another session
    assert second.id == result["second_session"] != session.id and second.meta["document"] == "model.blend"
    assert [(event.action.kind, dict(event.action.args)) for event in second.events] == [("object.mode_set", {})]

    from nep_core.plugins import get_domain

    report = CollectReport()
    collected = list(get_domain("blender").collectors["addon"].collect(str(logs), report))
    assert sorted(len(item.events) for item in collected) == [1, 11] and not report.warnings  # nothing dropped


def test_calls_after_the_first_of_one_look_are_logged_without_selection_names():
    """The context is the one seen at the last look: the first new call was made in it, the next ones
    in a selection the first may have changed, so only the first names it for the replay."""
    from types import SimpleNamespace

    class NoSettings:
        bl_rna = SimpleNamespace(properties=[])

    class Entry:
        """Shaped like a history entry, which the recorder reads through its class."""

        def __init__(self, pointer, bl_idname):
            self.fields = {"pointer": pointer, "bl_idname": bl_idname, "properties": NoSettings()}

        def as_pointer(self):
            return self.fields["pointer"]

        def path_resolve(self, path):
            return self.fields[path]

    named = {**OBJECT, "active_name": "Cube", "selected_names": ["Cube"]}
    recorder = load_addon_module("recorder").OperatorRecorder(lambda kind: True)
    recorder.absorb([], named)
    records = recorder.look([Entry(1, "OBJECT_OT_duplicate_move"), Entry(2, "OBJECT_OT_shade_smooth")], named)
    assert [record["kind"] for record in records] == ["object.duplicate_move", "object.shade_smooth"]
    assert records[0]["context"] == named and records[1]["context"] == OBJECT


def test_an_operator_with_a_property_named_properties_is_recorded(addon_build, tmp_path):
    """Ctrl+A > Apply Scale runs ``object.transform_apply``, whose "Apply Properties" is a property
    named ``properties``: Blender's Operator then answers ``entry.properties`` with that boolean, and the
    call was dropped without a word (and a false mode switch logged in its place after a Tab)."""
    result = run_scenario("apply_scale", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert result["history"] == ["MESH_OT_primitive_cube_add", "OBJECT_OT_transform_apply"]
    assert result["events"] == [
        ["mesh.primitive_cube_add", {}, "OBJECT"],
        ["object.transform_apply", {"location": False, "rotation": False}, "OBJECT"],
    ]
    # an entry that cannot be read is not recorded, but said: once in the system console, and in the panel
    assert result["console"].count("NEP: object.shade_smooth in Blender's operator history could not be read") == 1
    assert "1 operator could not be recorded; see the system console" in " ".join(result["panel"])


def test_no_property_name_hides_a_history_entrys_fields():
    """Blender's Operator answers ``entry.NAME`` with the operator's own property NAME when it has one;
    the recorder reads the entry's pointer, id and settings through its class, which nothing hides."""
    bpy = pytest.importorskip("bpy")
    recorder = load_addon_module("recorder")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    names = ("properties", "bl_idname", "as_pointer", "path_resolve", "name", "bl_rna")
    classes = [
        type(f"TEST_OT_nep_{name}", (bpy.types.Operator,), {
            "bl_idname": f"test.nep_{name}", "bl_label": name, "bl_options": {"REGISTER", "UNDO"},
            "__annotations__": {name: bpy.props.IntProperty(default=0)}, "execute": lambda self, context: {"FINISHED"},
        })
        for name in names
    ]
    try:
        for cls in classes:
            bpy.utils.register_class(cls)
        for name in names:
            assert getattr(bpy.ops.test, f"nep_{name}")("EXEC_DEFAULT", True, **{name: 7}) == {"FINISHED"}
        entries = list(bpy.context.window_manager.operators)
        read = [recorder.entry_fields(entry) for entry in entries]
        assert [kind for _, kind, _ in read] == [f"test.nep_{name}" for name in names]
        assert all(isinstance(pointer, int) and pointer for pointer, _, _ in read)
        assert [recorder.properties_to_args(settings) for _, _, settings in read] == [{name: 7} for name in names]
        assert entries[0].properties == 7  # what the recorder read before
    finally:
        for cls in classes:
            if cls.is_registered:
                bpy.utils.unregister_class(cls)


def test_a_tab_and_an_operator_in_one_timer_period_log_both_in_order(addon_build, tmp_path):
    """Tab leaves no history entry: the recorder saw the mode change only when nothing else was new,
    and stamped the call with the mode before it. The switch goes after the calls that cannot run in
    the mode now (they came before it) and before the others, which carry the new mode."""
    result = run_scenario("quick_tab", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert result["events"] == [
        ["mesh.primitive_cube_add", {}, "OBJECT"],
        ["object.mode_set", {"mode": "EDIT"}, "OBJECT"],  # Tab, then A
        ["mesh.select_all", {"action": "DESELECT"}, "EDIT_MESH"],
        ["mesh.subdivide", {}, "EDIT_MESH"],  # subdivide, then Tab: it cannot run in object mode
        ["object.mode_set", {}, "EDIT_MESH"],
        ["object.mode_set", {"mode": "EDIT"}, "OBJECT"],  # Tab alone
        ["object.mode_set", {}, "EDIT_MESH"],  # Tab, then Ctrl+A > Apply Scale
        ["object.transform_apply", {"location": False, "rotation": False}, "OBJECT"],
        ["object.editmode_toggle", {}, "OBJECT"],  # a switch the history holds is not logged twice
    ]
    assert result["context_after_tab"] == {**EDIT, "active_name": "Cube", "selected_names": ["Cube"]}


def test_accept_applies_the_modifier_its_label_names(addon_build, tmp_path):
    """A click on a modifier panel makes it active without an operator: Accept applied the modifier active
    then, not the one *Apply Modifier (Bevel)* named. It applies the named one, or refuses when it is gone."""
    result = run_scenario("modifier_click", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert result["shown"] == ["Apply Modifier (Bevel)"]
    assert result["accept"] == [["FINISHED"], "Accepted: Apply Modifier (Bevel)"]
    assert result["modifiers"] == ["Subdivision"] and result["shown_again"] == ["Apply Modifier (Subdivision)"]
    assert result["gone"] == [["CANCELLED"], "Refused: the modifier Subdivision that the suggestion names is no longer on the active object"]
    assert result["faces"] == 26  # the beveled cube, never subdivided
    applied = ["object.modifier_apply", {"modifier": "Bevel"}, "OBJECT"]
    assert result["events"] == [applied]  # the log names the modifier Accept applied, as a hand-run Apply does
    (accepted, actual), refused = result["feedback"]
    assert accepted == "accepted" and actual["args"] == {"modifier": "Bevel"} and refused == ["refused", None]
    assert [event.action.args for event in read_session(result["log"]).events if event.action] == [{"modifier": "Bevel"}]


def test_accept_runs_the_defaults_it_shows_not_the_users_last_used_settings(addon_build, tmp_path):
    """An Accept is not a nested call, so Blender filled what the suggestion left at its default from the
    user's last use: *Add Modifier* after a Bevel added a Bevel, *Add Cube* after a 5 m cube made a 5 m
    cube, while the log said the default. A new object still goes to the 3D cursor."""
    result = run_scenario("last_used", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert result["shown"] == ["Add Modifier (type SUBSURF)"]
    assert result["accept_modifier"][0] == ["FINISHED"] and result["modifiers"] == ["BEVEL", "SUBSURF"]
    assert result["accept_cube"] == ["FINISHED"] and result["cube"] == [[2.0, 2.0, 2.0], [4.0, 0.0, 0.0]]
    assert result["accept_at_cursor"] == ["FINISHED"] and result["cube_at_cursor"] == [[2.0, 2.0, 2.0], [0.0, 3.0, 0.0]]
    assert result["asked_domains"] == ["blender"]  # a server of another domain on the port says so (421)
    assert [event[0] for event in result["events"]][-3:] == ["object.modifier_add", "mesh.primitive_cube_add", "mesh.primitive_cube_add"]


def test_the_panel_says_why_it_shows_nothing_and_forgets_an_undone_accept(addon_build, tmp_path):
    """Suggestions all hidden (below Minimum Confidence, or unable to run in Object Mode) read as a model with
    nothing to say; after Accept and Ctrl+Z the panel still said *Accepted: Shade Smooth*."""
    result = run_scenario("hidden", addon_build[0], tmp_path, str(tmp_path / "logs"))
    hidden = " ".join(result["panel_hidden"])
    assert "Nothing to suggest right now" in hidden
    assert "2 hidden: 1 below your Minimum Confidence; 1 cannot run in this mode or selection" in " ".join(hidden.split())
    assert result["shown"] == ["Shade Smooth"] and not any("hidden:" in line for line in result["panel_shown"])
    assert any("Accepted: Shade Smooth" in line for line in result["panel_accepted"])
    assert not any("Accepted:" in line for line in result["panel_undone"]) and not any("hidden:" in line for line in result["panel_undone"])
    assert result["join_outcome"] == ("Refused: Join did not run: Blender cancelled it, as the selection or mode does not suit it "
                                      "(object.join: CANCELLED)")


def test_doing_the_suggestion_by_hand_is_not_reported_as_ignored(addon_build, tmp_path):
    """`ignored` means the user did something else (docs/session-log.md, docs/serving.md), and the server
    takes any outcome but accepted as a no, dropping its speculation on the suggestion: a suggestion
    carried out by hand gets no feedback; one passed over still gets `ignored`."""
    result = run_scenario("by_hand", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert result["shown"] == ["Add Cube (size 0.5; location 1, 0, 0)"] and result["shown_next"] == ["Shade Smooth"]
    assert result["suggestions_after_same"] == 0
    assert result["feedback"] == [["ignored", "object.shade_flat"]]
    feedback = [event.feedback for event in read_session(result["log"]).events if event.feedback]
    assert [(item["suggestion"]["kind"], item["outcome"]) for item in feedback] == [("object.shade_smooth", "ignored")]


def test_the_panel_says_when_the_server_dropped_its_suggestions(addon_build, tmp_path):
    """Suggestions that failed the server's checks (`dropped` in docs/serving.md) read as a model with nothing to say."""
    result = run_scenario("dropped", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert "Nothing to suggest right now" in result["panel_dropped"]
    assert "2 suggestions dropped by the server: they failed its checks" in " ".join(map(str, result["panel_dropped"])), result["panel_dropped"]
    assert result["shown"] == ["Shade Smooth"]
    assert "dropped" not in " ".join(map(str, result["panel_empty"])), result["panel_empty"]


def test_the_unreachable_box_names_the_configured_port_and_a_malformed_url(addon_build, tmp_path):
    port = closed_port()
    result = run_scenario("server_url", addon_build[0], tmp_path, str(port))
    other = result["other_port"]
    assert other["status"] == "unreachable" and "NEP server unreachable" in other["panel"]
    assert f"nep serve --domain blender --model ngram --port {port}" in other["panel"]
    assert f"Start the server: nep serve --domain blender --model ngram --port {port} --data scripts:nep-examples (ready in seconds)" in other["preferences"]
    malformed = result["no_scheme"]
    assert "NEP server URL malformed" in malformed["panel"] and "NEP server unreachable" not in malformed["panel"]
    assert "server URL must look like http://127.0.0.1:8765, not" in " ".join(malformed["panel"])
    assert not any("nep serve" in line for line in malformed["panel"] + malformed["preferences"])


def test_the_shortcuts_clash_with_blenders_default_keymap_only_where_declared(addon_build, tmp_path):
    """Blender's default keymap binds Alt+Backspace in text edit mode ("Font": an accent), which Blender
    evaluates before the 3D View's: the shortcut says so and the footer leaves it out there."""
    result = run_scenario("shortcuts", addon_build[0], tmp_path)
    assert "Object Non-modal" in result["tab_bound_by_blender"]
    keymap_modes = {"Font": "EDIT_TEXT"}
    for idname, keymaps in result["bound_by_blender"].items():
        assert all(name in keymap_modes for name in keymaps), f"{idname}: an undeclared clash in {keymaps}"
        assert sorted(keymap_modes[name] for name in keymaps) == sorted(result["declared"][idname])
    assert result["bound_by_blender"] == {"nep.accept": [], "nep.dismiss": ["Font"]}
    assert "Alt+Enter accept · Alt+Backspace dismiss" in result["footer_object_mode"]
    assert result["mode"] == "EDIT_TEXT" and "Alt+Enter accept" in result["footer_text_edit"]


def test_the_edit_rule_matches_the_registry():
    from nep_blender.registry import load_registry

    recorder = load_addon_module("recorder")
    registry = load_registry()
    differ = [kind for kind, spec in registry.operators.items() if recorder.is_edit(kind, set(spec.options)) != spec.is_edit]
    assert not differ and len(registry.operators) > 1000
    assert recorder.operator_kind("MESH_OT_extrude_region_move") == "mesh.extrude_region_move"
    assert recorder.operator_kind("mesh.already_python") == "mesh.already_python"


def test_the_addon_log_is_byte_for_byte_nep_cores_and_survives_a_torn_line(tmp_path):
    sessionlog = load_addon_module("sessionlog")
    header = {"nep": 1, "domain": "blender", "session": "s1", "created": "2026-11-23T10:00:00Z", "meta": {"source": "addon"}}
    records = [
        {"t": 0.5, "action": {"kind": "mesh.primitive_cube_add", "args": {"size": 0.5}, "context": OBJECT}},
        {"t": 1.0, "feedback": {"suggestion": {"kind": "object.shade_smooth"}, "shown_at": 0.7, "accepted": False, "outcome": "dismissed"}},
    ]
    ours = sessionlog.SessionLog(str(tmp_path / "addon.jsonl"), header)
    for record in records:
        ours.append(record)
    ours.close()
    with SessionLogWriter(tmp_path / "core.jsonl", header) as core:
        for record in records:
            core.append(record)
    assert (tmp_path / "addon.jsonl").read_bytes() == (tmp_path / "core.jsonl").read_bytes()

    with open(tmp_path / "addon.jsonl", "ab") as handle:
        handle.write(b'{"t": 2.0, "action": {"kind": "mesh.ins')  # Blender crashed mid-write
    again = sessionlog.SessionLog(str(tmp_path / "addon.jsonl"), header)
    again.append({"t": 3.0, "action": {"kind": "object.shade_flat"}})
    again.close()
    report = ReadReport()
    session = read_session(tmp_path / "addon.jsonl", report=report)
    assert [event.action.kind for event in session.events if event.action] == ["mesh.primitive_cube_add", "object.shade_flat"]
    assert len(report.warnings) == 1 and "torn line" in report.warnings[0]


def test_the_client_keeps_only_well_formed_suggestions():
    client = load_addon_module("client")
    body = {
        "suggestions": [
            {"action": {"kind": "mesh.inset", "args": {"thickness": 0.1}}, "probability": 0.5, "confidence": 0.5, "label": "Inset Faces (thickness 0.1)"},
            {"action": {"kind": "object.shade_smooth"}, "probability": 0.2, "label": ""},  # an older server: no confidence
            {"action": {"kind": "mesh.subdivide"}, "probability": 0.01, "confidence": 0.9, "label": "Subdivide"},  # decided by kind
            {"action": "__import__('os')", "probability": 0.9, "label": "code"},
            {"action": {"kind": "mesh.bevel", "args": "width=1"}, "probability": 0.1, "label": "Bevel"},
            {"action": {"kind": "mesh.bevel"}, "probability": True, "label": "Bevel"},
            {"action": {"kind": "mesh.bevel"}, "probability": 0.3, "confidence": "high", "label": "Bevel"},
            {"action": {"kind": "mesh.bevel"}, "probability": 0.3, "confidence": 7.0, "label": "Bevel"},  # shown as 700% before
            {"action": {"kind": "mesh.bevel"}, "probability": -0.1, "label": "Bevel"},
            {"action": {"kind": "mesh.bevel"}, "probability": float("nan"), "label": "Bevel"},
        ]
    }
    assert client.check_suggestions(body) == [
        {"action": {"kind": "mesh.inset", "args": {"thickness": 0.1}}, "probability": 0.5, "confidence": 0.5, "label": "Inset Faces (thickness 0.1)"},
        {"action": {"kind": "object.shade_smooth"}, "probability": 0.2, "confidence": 0.2, "label": "object.shade_smooth"},
        {"action": {"kind": "mesh.subdivide"}, "probability": 0.01, "confidence": 0.9, "label": "Subdivide"},
    ]
    with pytest.raises(ValueError):
        client.check_suggestions({"detail": "no"})
    assert client.parse_base_url("http://127.0.0.1:8765/") == ("http", "127.0.0.1", 8765, "")
    with pytest.raises(ValueError):
        client.parse_base_url("127.0.0.1:8765")


def test_the_panel_names_the_call_accept_runs_never_the_servers_label(addon_build, tmp_path):
    """A server's labels are not shown: the add-on names the checked call itself (operator name and the
    arguments it runs with), on one line; a confidence outside [0, 1] is not shown."""
    result = run_scenario("hostile", addon_build[0], tmp_path)
    grid = "Add Grid (x_subdivisions 990000; y_subdivisions 990000)"
    assert result["shown"] == [grid, "Delete", "Add Modifier (type BOOLEAN)"]
    assert result["confidences"] == [0.9, 0.5, 0.4]  # 7.0 and a probability of 1.5 were refused
    assert f"<nep.accept: {grid}>" in result["panel"] and "90%" in result["panel"] and "700%" not in result["panel"]
    assert not any("\n" in line or "harmless" in line or "BEVEL" in line or "size 1" in line for line in result["panel"])
    assert result["tooltips"][0] == f"Run {grid} (90%) as one undo step"
    assert result["tooltips"][1] == "Run Delete (50%) as one undo step"


def test_accept_never_runs_a_free_string_and_still_runs_enum_items(addon_build, tmp_path):
    """NEP's action space writes no string property (and no enum without fixed items), so a suggestion
    carrying one is neither shown nor run: a data path could set any property, preferences included."""
    result = run_scenario("hostile", addon_build[0], tmp_path)
    assert "Move Entry" not in result["shown"] and not any(label.startswith("Apply Modifier") for label in result["shown"])
    assert result["accept_enum"] == [["FINISHED"], "Accepted: Add Modifier (type BOOLEAN)"]
    assert result["modifiers"] == ["BEVEL", "ARRAY", "BOOLEAN"]
    reason = "is a free string (a data path, a name); NEP never sets one from a suggestion"
    assert result["free_strings"] == [
        [["CANCELLED"], f"Refused: uilist.entry_move.list_path {reason}"],
        [["CANCELLED"], f"Refused: object.modifier_apply.modifier {reason}"],
    ]
    assert result["undo_memory_limit_unchanged"] and result["modifiers_after"] == result["modifiers"]


def test_free_strings_are_found_inside_macros_too():
    bpy = pytest.importorskip("bpy")
    from nep_blender import bpy_calls

    rna = bpy.ops.mesh.extrude_region_move.get_rna_type()
    assert bpy_calls.free_strings(rna, {"TRANSFORM_OT_translate": {"value": [0, 0, 1]}}) == []
    entry_move = bpy.ops.uilist.entry_move.get_rna_type()
    assert bpy_calls.free_strings(entry_move, {"direction": "UP", "list_path": "x"}) == ["list_path"]


def test_accept_records_the_users_newer_operator_first_and_runs_no_stale_suggestion(addon_build, tmp_path):
    """The user moved the cube and pressed Accept before the timer's next look: the move is recorded
    (log, history, feedback that the suggestion was passed over) and the older suggestion is not run."""
    result = run_scenario("race", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert result["shown"] == ["Shade Smooth"]
    assert result["accept"] == ["CANCELLED"] and not result["smooth"]
    assert result["outcome"] == "Not run: it was suggested before your latest changes; asking for a new suggestion"
    assert result["events"] == ["transform.translate"]
    assert result["feedback"] == [["ignored", "transform.translate"]]
    assert result["asked_again"]
    assert result["accept_fresh"] == ["FINISHED"] and result["smooth_after"]  # a suggestion for the history as it is runs
    logged = [event.action.kind for event in read_session(result["log"]).events if event.action]
    assert logged == ["transform.translate", "object.shade_smooth"]


def test_a_primitive_added_in_the_ui_and_by_accept_log_the_same_call(addon_build, tmp_path):
    """Blender fills in an object-add operator's scale (stored default 0, 0, 0) with 1, 1, 1 at run
    time; the recorder leaves it out, so one call has one spelling."""
    result = run_scenario("same_call", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert result["accept"] == ["FINISHED"]
    calls = [(event.action.kind, dict(event.action.args)) for event in read_session(result["log"]).events if event.action]
    expected = ("mesh.primitive_cube_add", {"size": 0.5, "location": [1.0, 0.0, 0.0]})
    assert calls == [expected, expected]


def test_a_new_file_clears_the_last_outcome(addon_build, tmp_path):
    result = run_scenario("same_call", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert result["outcome"].startswith("Accepted: Add Cube") and result["outcome_after_new_file"] == ""


def test_record_off_sends_no_feedback_and_never_sends_its_events_later(addon_build, tmp_path):
    """`nep serve` writes what feedback carries to its feedback log: with Record off none is sent, and
    the events recorded meanwhile are not sent with the feedback that follows once Record is on."""
    result = run_scenario("record_off", addon_build[0], tmp_path, str(tmp_path / "logs"))
    assert result["feedback_while_off"] == [] and result["events_while_off"] == 2
    assert [item["outcome"] for item in result["feedback_after"]] == ["dismissed"]
    assert [event["action"]["kind"] for event in result["feedback_after"][0]["history"]] == ["object.shade_flat"]
    assert len(result["logs"]) == 1


def test_the_panel_says_when_the_log_folder_cannot_be_written(addon_build, tmp_path):
    (tmp_path / "a_file").write_text("")
    folder = str(tmp_path / "a_file" / "logs")
    result = run_scenario("log_folder", addon_build[0], tmp_path, folder)
    assert f"Cannot write logs to {folder}: Not a directory".replace(" ", "") in "".join(result["panel"]).replace(" ", "")
    assert not any(line.startswith("Recording to") for line in result["panel"])
    assert any(line.startswith("Recording to") for line in result["panel_other_folder"])
    # a // folder moved with each .blend saved or opened, splitting one session's log (Blender warns it cannot resolve it)
    relative = "".join(result["panel_relative"]).replace(" ", "")
    assert "Cannotwritelogsto//nep_logs/:notanabsolutefolder" in relative and not result["relative_written"]


def test_reload_scripts_runs_every_module_of_the_addon_again(addon_build, tmp_path):
    result = run_scenario("reload", addon_build[0], tmp_path)
    assert all(result["run_again"].values()), result["run_again"]
    assert result["after_reload"]["runtime"] and result["after_reload"]["timer"]


def test_the_panel_tells_a_slow_or_closing_server_from_none_and_disabling_never_waits(addon_build, tmp_path):
    port = closed_port()
    result = run_scenario("network", addon_build[0], tmp_path, f"http://127.0.0.1:{port}")
    status, panel = result["slow"]
    assert status == "slow" and "NEP server too slow" in panel and "Start it in a terminal (ready in seconds):" not in panel
    status, panel = result["busy"]
    assert status == "busy" and "NEP server busy or shutting down" in panel
    assert "HTTP 503: the server is shutting down" in " ".join(panel) and "NEP server unreachable" not in panel
    status, panel = result["unreachable"]
    assert status == "unreachable" and "NEP server unreachable" in panel
    assert f"nep serve --domain blender --model ngram --port {port}" in panel and "    --data scripts:nep-examples" in panel
    assert result["disable_seconds"] < 0.8 and result["worker_is_daemon"]  # it waited 1 s on the request before


def write_training_logs(folder: Path) -> None:
    """A few sessions for the n-gram baseline: add a cube, Tab, extrude, Tab, shade smooth."""
    calls = [
        ("mesh.primitive_cube_add", {}, {"mode": "OBJECT", "active": "NONE", "selected": 0}),
        ("object.mode_set", {"mode": "EDIT"}, OBJECT),
        ("mesh.extrude_region_move", {"TRANSFORM_OT_translate": {"value": [0.0, 0.0, 1.0]}}, EDIT),
        ("object.mode_set", {}, EDIT),
        ("object.shade_smooth", {}, OBJECT),
    ]
    folder.mkdir(parents=True)
    for number in range(4):
        header = {"nep": 1, "domain": "blender", "session": f"train-{number}", "created": "", "meta": {"source": "test"}}
        with SessionLogWriter(folder / f"train-{number}.jsonl", header) as writer:
            for index, (kind, args, context) in enumerate(calls):
                writer.append({"t": 2.0 * index, "action": {"kind": kind, "args": args, "context": context}})


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_addon_talks_to_a_real_nep_serve(addon_build, tmp_path):
    write_training_logs(tmp_path / "train")
    feedback_dir = tmp_path / "feedback"
    token = "test-token-123"
    server = ServeProcess(
        "--domain", "blender", "--model", "ngram", "--data", str(tmp_path / "train"), "--port", "0", "--data-dir", str(feedback_dir),
        env={"NEP_SERVER_TOKEN": token},
    )
    try:
        settings = {"url": server.url, "closed_url": f"http://127.0.0.1:{closed_port()}", "token": token, "logs": str(tmp_path / "logs")}
        result = run_scenario("serve", addon_build[0], tmp_path, json.dumps(settings))
        health = httpx.get(f"{server.url}/v1/health", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    finally:
        status, stderr = server.interrupt()
    assert status == 0 and "Traceback" not in stderr, stderr

    assert result["unreachable"] and "refused" in result["unreachable_message"]
    assert result["refused_token"] and result["refused_token_message"].startswith("HTTP 401")
    assert result["got_suggestions"] and result["stale_answers"] >= 1  # the answer for the older history was dropped
    # only calls that can run in the live scene are shown: mesh operators in edit mode, not in object mode
    assert result["shown_were_runnable"] and result["inset_runnable_in_edit_mode"]
    assert not result["inset_runnable_in_object_mode"] and not result["unknown_runnable"]
    top = result["suggestions"][0]
    assert top["action"]["kind"] == "mesh.extrude_region_move" and top["label"].startswith("Extrude Region and Move")
    assert 0.0 < top["probability"] <= 1.0 and top["request_id"]
    assert result["accept"] == ["FINISHED"] and result["scene_changed"] and result["one_undo_restores"]
    # the request after Accept, whose history logs the accepted call with the mode and selection it ran
    # in, was answered from the speculation on that Accept
    assert result["suggested_again"] and health["speculation"]["hits"] >= 1, health
    reasons = [
        "Refused: this Blender has no operator 'mesh.no_such_operator'",
        "Refused: mesh.inset.thickness must be a number",
        "Refused: object.select_all is not an edit; NEP suggests edits only",
        "Refused: script.python_file_run runs code; NEP never runs it from a suggestion",
        "Refused: image.save_as.filepath is a file path; NEP never sets one from a suggestion",
        "Refused: this Blender has no operator 'WM.context_set_value'",  # it ran the code before
        "Refused: this Blender has no operator 'SCRIPT.python_file_run'",
    ]
    assert result["refusals"] == [[["CANCELLED"], reason] for reason in reasons]
    assert result["refusals_left_scene_alone"] and not result["refused_code_ran"]
    assert result["suggested_again"] and result["dismiss"] == ["FINISHED"]
    assert result["feedback_delivered"] and result["feedback_sent"] == 9
    assert result["max_tick_seconds"] < 0.5, "a timer tick waited on the network"
    assert result["client_stopped"]

    served = read_session(feedback_dir / "blender" / f"{result['session']}.jsonl")
    feedback = [event.feedback for event in served.events if event.feedback]
    assert [(item["outcome"], item["accepted"]) for item in feedback] == [
        ("accepted", True), *[("refused", False)] * 7, ("dismissed", False)
    ]
    assert feedback[0]["suggestion"] == top["action"] and feedback[0]["request_id"] == top["request_id"]
    assert ["Refused: " + item["reason"] for item in feedback[1:8]] == reasons
    assert feedback[2]["suggestion"] == {"kind": "mesh.inset", "args": {"thickness": "thick"}}
    served_actions = [event.action.kind for event in served.events if event.action]
    assert served_actions[:3] == ["mesh.primitive_cube_add", "object.mode_set", "mesh.extrude_region_move"]

    local = read_session(result["log_file"])
    assert [event.feedback["outcome"] for event in local.events if event.feedback] == ["accepted", *["refused"] * 7, "dismissed"]
    accepted_at = next(index for index, event in enumerate(local.events) if event.feedback)
    assert local.events[accepted_at + 1].action.kind == "mesh.extrude_region_move"  # feedback, then what ran


def test_nep_eval_scores_blender_suggestions_as_the_add_on_shows_them():
    """The blender domain's min_confidence, which `nep eval` applies, is the add-on's default preference."""
    import re

    from nep_blender.domain import build_domain

    preferences = (ADDON_SOURCE / "preferences.py").read_text(encoding="utf-8")
    default = re.search(r"min_confidence: bpy\.props\.FloatProperty\([^)]*?default=([0-9.]+)", preferences, re.DOTALL)
    assert default is not None, "preferences.py has no min_confidence default"
    assert build_domain().min_confidence == float(default.group(1)) > 0
