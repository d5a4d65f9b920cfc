"""The script form: a recorded session written the way a script author's functions run it."""

from __future__ import annotations

import json
import subprocess
import sys

from nep_core.actions import Action
from nep_core.session import Event, Session
from nep_blender.synthetic.script_form import CLEARINGS, ScriptAuthor, as_loops, as_scripts

CONTEXT = {"mode": "OBJECT", "active": "MESH", "selected": 1}


def _session(calls, session_id="rec") -> Session:
    return Session(
        id=session_id, domain="blender", meta={"source": "synthetic"},
        events=[Event(t=1.5 * index, action=Action(kind=kind, args=args, context=CONTEXT, edit=edit)) for index, (kind, args, edit) in enumerate(calls)],
    )


def _recording() -> Session:
    return _session([
        ("object.select_all", {"action": "SELECT"}, False), ("object.delete", {}, True),  # clearing the start-up scene
        ("mesh.primitive_cube_add", {"size": 1.0}, True), ("view3d.view_selected", {}, False),
        ("object.mode_set", {"mode": "EDIT"}, True), ("mesh.bevel", {"offset": 0.2}, True), ("ed.undo", {}, False),
        ("mesh.bevel", {"offset": 0.1}, True), ("object.mode_set", {}, True), ("object.shade_smooth", {}, True),
    ])


def kinds(script: Session) -> list[str]:
    return [action.kind for action in script.actions()]


def test_a_recording_becomes_functions_without_views_undo_or_context():
    recording = _recording()
    (whole,) = as_scripts(recording)
    assert kinds(whole) == [
        "object.select_all", "object.delete", "mesh.primitive_cube_add", "object.mode_set", "mesh.bevel", "object.mode_set",
        "object.shade_smooth",
    ]  # no view change; the undone bevel and its undo are gone
    assert whole.actions()[4].args == {"offset": 0.1} and all(not action.context for action in whole.actions())
    assert [event.t for event in whole.events] == [2.0 * index for index in range(7)]
    assert whole.source == recording.source and whole.meta["form"] == "script"


def test_the_authors_mode_habits_guards_helpers_and_ending():
    recording = _recording()
    clearing, model = as_scripts(recording, [0, 2], ScriptAuthor(toggles=True, guards=True))
    assert kinds(clearing) == ["object.editmode_toggle", "object.select_all", "object.delete"]
    assert kinds(model) == ["mesh.primitive_cube_add", "object.editmode_toggle", "mesh.bevel", "object.editmode_toggle", "object.shade_smooth"]
    guarded, _ = as_scripts(recording, [0, 2], ScriptAuthor(guards=True))
    assert kinds(guarded) == ["object.mode_set", "object.select_all", "object.delete"]
    saved = as_scripts(recording, [0, 2], ScriptAuthor(ending=(Action(kind="wm.save_mainfile", edit=False),)))
    assert saved[0].actions()[-1].kind == "object.delete" and saved[-1].actions()[-1].kind == "wm.save_mainfile"
    helpers = as_scripts(recording, [0, 2], ScriptAuthor(helpers=True))
    assert [kinds(script) for script in helpers] == [
        ["object.select_all", "object.delete"],
        ["object.mode_set", "mesh.bevel", "object.mode_set"],  # the edit-mode block; the lone cube and smooth are too short
    ]


def test_an_author_of_small_functions_writes_one_per_object():
    recording = _session([
        ("mesh.primitive_cube_add", {}, True), ("transform.resize", {"value": [2.0, 1.0, 1.0]}, True),
        ("object.light_add", {"type": "SUN"}, True), ("transform.translate", {"value": [0.0, 0.0, 5.0]}, True),
        ("object.camera_add", {}, True), ("transform.rotate", {"value": 1.0}, True), ("object.shade_smooth", {}, True),
    ])
    assert len(as_scripts(recording)) == 1
    scripts = as_scripts(recording, author=ScriptAuthor(small_functions=True))
    assert [kinds(script)[0] for script in scripts] == ["mesh.primitive_cube_add", "object.light_add", "object.camera_add"]
    assert [len(script.events) for script in scripts] == [2, 2, 3]


def test_repeated_calls_are_written_once_as_a_loop_body():
    def call(kind, **args):
        return Action(kind=kind, args=args, edit=True)

    calls = [
        call("mesh.primitive_cube_add", size=1.0),
        call("object.duplicate_move", offset=1.0), call("transform.rotate", value=0.5),
        call("object.duplicate_move", offset=2.0), call("transform.rotate", value=0.5),
        call("object.duplicate_move", offset=3.0), call("transform.rotate", value=0.5),
        call("object.join"), call("object.shade_smooth"), call("object.shade_smooth"),
    ]
    looped = as_loops(calls)
    assert [action.kind for action in looped] == [
        "mesh.primitive_cube_add", "object.duplicate_move", "transform.rotate", "object.join", "object.shade_smooth",
    ]
    assert looped[1].args == {} and looped[2].args == {"value": 0.5}  # the changing offset is the loop variable
    assert as_loops(calls[:3]) == calls[:3]  # one iteration is no loop


def test_a_data_api_author_writes_materials_selections_and_sizes_without_operators():
    recording = _session([
        ("mesh.primitive_cube_add", {"size": 1.0}, True), ("transform.resize", {"value": [2.0, 1.0, 0.1]}, True),
        ("object.material_slot_add", {}, True), ("material.new", {}, True), ("object.mode_set", {"mode": "EDIT"}, True),
        ("mesh.select_random", {"ratio": 0.3}, False), ("object.material_slot_assign", {}, True), ("object.mode_set", {}, True),
    ])
    (plain,) = as_scripts(recording)
    assert len(plain.events) == 8
    (script,) = as_scripts(recording, author=ScriptAuthor(data_api=True))
    assert kinds(script) == ["mesh.primitive_cube_add", "object.mode_set", "object.material_slot_assign", "object.mode_set"]
    assert script.actions()[0].args == {"size": 1.0, "scale": [2.0, 1.0, 0.1]}


CALLS_RUNNER = """
import json, os, sys
os.dup2(2, 1)
import bpy
from nep_blender.bpy_calls import viewport_override
placed = []
for calls in json.load(open(sys.argv[1])):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    with bpy.context.temp_override(**viewport_override(bpy)):
        for kind, args in calls:
            module, name = kind.split(".")
            getattr(getattr(bpy.ops, module), name)(**args)
    placed.append([list(row) for row in bpy.context.view_layer.objects.active.matrix_world])
json.dump(placed, open(sys.argv[2], "w"))
"""


def test_an_author_who_places_passes_a_move_to_the_add_call(tmp_path):
    recording = _session([
        ("object.camera_add", {}, True), ("transform.translate", {"value": [0.0, -8.0, 2.0]}, True),
        ("transform.translate", {"value": [1.0, 0.0, 0.0]}, True), ("transform.rotate", {"value": 1.1, "orient_axis": "X"}, True),
        ("mesh.primitive_cube_add", {"location": [1.0, 0.0, 0.0]}, True),
        ("transform.translate", {"value": [0.0, 0.0, 1.0], "orient_type": "LOCAL"}, True),  # in the object's own axes
    ])
    (plain,) = as_scripts(recording)
    assert len(plain.events) == 6
    (script,) = as_scripts(recording, author=ScriptAuthor(places=True))
    assert kinds(script) == ["object.camera_add", "transform.rotate", "mesh.primitive_cube_add", "transform.translate"]
    assert script.actions()[0].args == {"location": [1.0, -8.0, 2.0]}
    # in real bpy the script's camera ends where the recording's did (a turn stays a call: its angle depends on the view)
    calls = [[(action.kind, action.args) for action in actions] for actions in (recording.actions()[:4], script.actions()[:2])]
    (tmp_path / "calls.json").write_text(json.dumps(calls))
    subprocess.run([sys.executable, "-c", CALLS_RUNNER, str(tmp_path / "calls.json"), str(tmp_path / "placed.json")],
                   check=True, capture_output=True, timeout=300)
    recorded, scripted = json.loads((tmp_path / "placed.json").read_text())
    assert max(abs(a - b) for row_a, row_b in zip(recorded, scripted) for a, b in zip(row_a, row_b)) < 1e-5
    assert abs(recorded[0][3] - 1.0) + abs(recorded[1][3] + 8.0) + abs(recorded[2][3] - 2.0) < 1e-5  # it did move

def test_a_data_api_author_turns_an_added_object_in_python():
    recording = _session([
        ("object.camera_add", {}, True), ("transform.rotate", {"value": 1.1, "orient_axis": "X"}, True),
        ("transform.rotate", {"value": 0.2}, True), ("object.constraint_add", {"type": "TRACK_TO"}, True),
        ("transform.rotate", {"value": 0.3}, True),  # a turn later on, not right after the add
    ])
    (plain,) = as_scripts(recording)
    assert len(plain.events) == 5
    (script,) = as_scripts(recording, author=ScriptAuthor(data_api=True))
    assert kinds(script) == ["object.camera_add", "object.constraint_add", "transform.rotate"]

def test_an_author_who_adds_modifiers_in_python_leaves_out_modifier_add():
    recording = _session([
        ("mesh.primitive_cube_add", {}, True), ("object.modifier_add", {"type": "BEVEL"}, True),
        ("object.modifier_add", {"type": "SUBSURF"}, True), ("object.modifier_apply", {"modifier": "Bevel"}, True),
        ("object.shade_smooth", {}, True),
    ])
    (plain,) = as_scripts(recording)
    assert kinds(plain).count("object.modifier_add") == 2
    (script,) = as_scripts(recording, author=ScriptAuthor(modifiers_api=True))
    assert kinds(script) == ["mesh.primitive_cube_add", "object.modifier_apply", "object.shade_smooth"]  # obj.modifiers.new(...) in Python
    shares = [ScriptAuthor.draw(7, index, lambda kind: True).modifiers_api for index in range(400)]
    assert 0.4 < sum(shares) / len(shares) < 0.6  # half of the authors


def test_an_author_who_adds_anew_writes_a_duplicate_as_the_calls_that_made_the_object():
    recording = _session([
        ("mesh.primitive_cube_add", {"size": 1.0}, True), ("transform.resize", {"value": [0.1, 0.1, 1.0]}, True),
        ("object.transform_apply", {"scale": True}, True),
        ("object.duplicate_move", {"TRANSFORM_OT_translate": {"value": [1.0, 0.0, 0.0]}}, True),
        ("object.duplicate_move", {}, True), ("object.shade_smooth", {}, True),
    ])
    (plain,) = as_scripts(recording)
    assert kinds(plain).count("object.duplicate_move") == 2
    (unrolled,) = as_scripts(recording, author=ScriptAuthor(adds_anew=True))
    leg = ["mesh.primitive_cube_add", "transform.resize", "object.transform_apply"]
    assert kinds(unrolled) == leg * 3 + ["object.shade_smooth"]
    (looped,) = as_scripts(recording, author=ScriptAuthor(adds_anew=True, loops=True))
    assert kinds(looped) == leg + ["object.shade_smooth"]  # the loop that makes the legs is read once
    imported = _session([("import_scene.fbx", {}, True), ("object.duplicate_move", {}, True)])
    (kept,) = as_scripts(imported, author=ScriptAuthor(adds_anew=True))
    assert kinds(kept) == ["import_scene.fbx", "object.duplicate_move"]  # nothing it added to make again
    undone = _session([
        ("import_scene.fbx", {}, True), ("mesh.primitive_cube_add", {}, True), ("ed.undo", {}, False),
        ("object.shade_smooth", {}, True), ("object.duplicate_move", {}, True),
    ])
    (kept,) = as_scripts(undone, author=ScriptAuthor(adds_anew=True))
    assert kinds(kept) == ["import_scene.fbx", "object.shade_smooth", "object.duplicate_move"]  # the undone add made nothing


def test_an_author_who_composes_with_adds_keeps_only_the_add_calls():
    recording = _session([
        ("mesh.primitive_plane_add", {"size": 10.0}, True), ("object.modifier_add", {"type": "SUBSURF"}, True),
        ("mesh.primitive_cube_add", {}, True), ("object.mode_set", {"mode": "EDIT"}, True), ("mesh.bevel", {"offset": 0.1}, True),
        ("object.mode_set", {}, True), ("object.light_add", {"type": "SUN"}, True), ("object.camera_add", {}, True),
    ])
    (script,) = as_scripts(recording, author=ScriptAuthor(adds_only=True))
    assert kinds(script) == ["mesh.primitive_plane_add", "mesh.primitive_cube_add", "object.light_add", "object.camera_add"]
    assert script.actions()[0].args == {"size": 10.0}
    clearing, scene = as_scripts(recording, author=ScriptAuthor(adds_only=True, clears=True))
    assert kinds(clearing) == ["object.select_all", "object.delete"] and len(scene.events) == 4


def test_an_author_who_clears_starts_with_a_clearing_function_unless_the_recording_cleared():
    empty_start = _session([("mesh.primitive_cube_add", {}, True), ("object.shade_smooth", {}, True)], "empty")
    clearing, model = as_scripts(empty_start, author=ScriptAuthor(clears=True, guards=True))
    assert kinds(clearing) == ["object.mode_set", "object.select_all", "object.delete"] and clearing.id == "empty-scriptclear"
    assert kinds(model) == ["mesh.primitive_cube_add", "object.shade_smooth"]
    assert len(as_scripts(_recording(), [0, 2], ScriptAuthor(clears=True))) == 2  # it cleared already
    by_type = CLEARINGS[-1]
    clearing, _ = as_scripts(_recording(), [0, 2], ScriptAuthor(clearing=by_type))  # the author's way of clearing
    assert clearing.actions() == list(by_type) and [action.kind for action in by_type] == [
        "object.select_all", "object.select_by_type", "object.delete",
    ]


def test_an_author_who_imports_a_model_does_it_first_after_clearing():
    imports = (Action(kind="import_scene.fbx", edit=True), Action(kind="import_scene.gltf", edit=True))
    clearing, model = as_scripts(_recording(), [0, 2], ScriptAuthor(opening=imports))
    assert kinds(clearing) == ["object.select_all", "object.delete", "import_scene.fbx", "import_scene.gltf"]
    assert kinds(model)[0] == "mesh.primitive_cube_add"
    purge = next(clearing for clearing in CLEARINGS if clearing[-1].kind == "outliner.orphans_purge")
    (whole,) = as_scripts(_recording(), author=ScriptAuthor(clearing=purge, opening=imports[:1]))
    assert kinds(whole)[:5] == ["object.select_all", "object.delete", "outliner.orphans_purge", "import_scene.fbx", "mesh.primitive_cube_add"]
    empty_start = _session([("mesh.primitive_cube_add", {}, True), ("object.shade_smooth", {}, True)], "empty")
    clearing, model = as_scripts(empty_start, author=ScriptAuthor(clears=True, opening=imports[:1]))
    assert kinds(clearing) == ["object.select_all", "object.delete", "import_scene.fbx"]
    assert kinds(model) == ["mesh.primitive_cube_add", "object.shade_smooth"]


def test_most_authors_start_the_scripts_body_with_the_clearing_rather_than_a_function_of_its_own():
    (body, *_) = as_scripts(_recording(), [0, 2], ScriptAuthor(clear_function=False))
    assert kinds(body)[:4] == ["object.select_all", "object.delete", "mesh.primitive_cube_add", "object.mode_set"]
    empty_start = _session([("mesh.primitive_cube_add", {}, True), ("object.shade_smooth", {}, True)], "empty")
    imports = (Action(kind="import_scene.fbx", edit=True),)
    (body,) = as_scripts(empty_start, author=ScriptAuthor(clears=True, clear_function=False, opening=imports))
    assert kinds(body) == ["object.select_all", "object.delete", "import_scene.fbx", "mesh.primitive_cube_add", "object.shade_smooth"]
    authors = [ScriptAuthor.draw(5, index, lambda kind: True) for index in range(200)]
    assert 0.1 < sum(author.clear_function for author in authors) / len(authors) < 0.4


def test_a_data_api_author_deselects_all_before_deleting_one_object():
    recording = _session([
        ("mesh.primitive_cube_add", {}, True), ("mesh.primitive_cylinder_add", {}, True), ("object.modifier_add", {"type": "BOOLEAN"}, True),
        ("object.modifier_apply", {}, True), ("object.delete", {}, True), ("object.select_all", {"action": "SELECT"}, False),
        ("object.delete", {}, True),
    ])
    (script,) = as_scripts(recording, author=ScriptAuthor(data_api=True))
    assert kinds(script)[3:] == ["object.modifier_apply", "object.select_all", "object.delete", "object.select_all", "object.delete"]
    assert script.actions()[4].args == {"action": "DESELECT"} and script.actions()[6].args == {"action": "SELECT"}


def test_authors_are_drawn_by_seed_with_every_habit_in_use():
    authors = [ScriptAuthor.draw(5, index, lambda kind: kind != "wm.save_mainfile") for index in range(200)]
    assert authors == [ScriptAuthor.draw(5, index, lambda kind: kind != "wm.save_mainfile") for index in range(200)]
    for habit in ("toggles", "guards", "helpers", "small_functions", "loops", "data_api", "places", "clears", "ending"):
        share = sum(bool(getattr(author, habit)) for author in authors) / len(authors)
        assert 0.2 < share < 0.95, habit
    assert {author.clearing for author in authors} == set(CLEARINGS)
    opens = sum(bool(author.opening) for author in authors) / len(authors)
    assert 0.1 < opens < 0.45 and {author.opening[0].kind for author in authors if author.opening} >= {"import_scene.fbx", "import_scene.gltf"}
