"""Calls that reach outside the scene (files, scripts, the clipboard) or bake to disk: one rule
(``bpy_calls.outside_reason``) for the replay, the action space, the server and the add-on's Accept.

A user may really run ``image.save``; the history keeps it as context, but NEP never suggests it: the
decoder cannot start a suggestion with it, the server drops one whatever predicted it, and Accept refuses
it. (An audit found Accept running 53 such operators, ``image.save_all_modified`` overwriting a texture.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_core.session import Context, Event, Session

HERE = Path(__file__).resolve().parent

OUTSIDE = ("image.save_all_modified", "image.save", "ptcache.bake_all", "object.ocean_bake", "object.multires_external_save",
           "export_scene.fbx", "import_scene.fbx", "uv.export_layout", "node.clipboard_copy", "text.insert", "image.unpack", "sound.unpack",
           "pose.copy", "pose.paste", "material.copy", "material.paste", "outliner.id_paste", "sequencer.paste", "font.text_paste",
           "font.text_copy", "ui.copy_data_path_button", "object.paste_transform", "ui.button_execute")
"""Operators Blender flags as undoable edits that reach outside the scene or bake to disk."""


@pytest.fixture(scope="module")
def domain():
    from nep_core.plugins import get_domain

    return get_domain("blender")


def test_one_rule_for_the_replay_the_registry_and_the_addon():
    from nep_blender import bpy_calls, replay_worker

    assert replay_worker.reaches_outside is bpy_calls.reaches_outside and replay_worker.polled_only is bpy_calls.polled_only
    assert not hasattr(replay_worker, "OUTSIDE_WORDS") and not hasattr(replay_worker, "POLLED_ONLY")  # no second copy of the lists
    for kind in OUTSIDE:
        assert bpy_calls.outside_reason(kind), kind
    for kind in ("mesh.bevel", "uv.pack_islands", "uv.lightmap_pack", "nla.bake", "font.text_insert", "object.modifier_apply"):
        assert not bpy_calls.outside_reason(kind), kind
    assert "bakes" in bpy_calls.outside_reason("ptcache.bake_all") and "outside the scene" in bpy_calls.outside_reason("image.save")


def test_the_action_space_never_suggests_a_call_outside_the_scene(domain):
    from nep_blender.bpy_calls import outside_reason

    space = domain.action_space
    excluded = space.non_edit_start_tokens()
    outside = [kind for kind in space.registry.operators if outside_reason(kind)]
    assert set(OUTSIDE) <= set(outside) and len(outside) > 150
    for kind in outside:
        assert not space.registry.get(kind).is_edit and f"@{kind}" in excluded, kind
        with pytest.raises(InvalidAction, match="NEP never suggests it"):
            space.validate(Action(kind=kind))
    # ... but a history writes them as they are: the user really saved or baked
    assert space.encode(Action(kind="image.save")) == ["@image.save"]
    assert space.decode(["@ptcache.bake_all"]).kind == "ptcache.bake_all"
    assert space.validate(Action(kind="mesh.bevel", args={"offset": 0.1})).kind == "mesh.bevel"


def test_the_server_drops_a_suggestion_outside_the_scene_whatever_predicted_it(domain):
    from nep_core.inference.predictor import Prediction, Suggestion
    from nep_core.server.suggest import checked_prediction

    context = Context(history=[Event(t=0.0, action=Action(kind="mesh.primitive_cube_add"))])
    suggestions = [Suggestion(Action(kind=kind), 0.1, kind) for kind in OUTSIDE]
    suggestions.insert(3, Suggestion(Action(kind="object.shade_smooth"), 0.1, "Shade Smooth"))
    prediction = Prediction(suggestions=suggestions, p_no_edit=0.1)
    checked, dropped = checked_prediction(domain, context, prediction, k=len(suggestions))
    assert [suggestion.action.kind for suggestion in checked.suggestions] == ["object.shade_smooth"]
    assert dropped == len(OUTSIDE)


def test_a_call_outside_the_scene_is_history_never_a_target(domain):
    from nep_core.examples import make_examples

    events = [
        Event(t=0.0, action=Action(kind="mesh.primitive_cube_add")),
        Event(t=1.0, action=Action(kind="image.save", edit=domain.action_space.is_edit_kind("image.save"))),
        Event(t=2.0, action=Action(kind="object.shade_smooth")),
    ]
    examples = make_examples(Session(id="s", domain="blender", events=events), domain)
    targets = {example.trigger: example.target.kind for example in examples}
    assert targets[0] == "object.shade_smooth" and "image.save" not in targets.values()  # the save is passed over
    context = Context(history=events[:2])
    assert "@image.save" in domain.encoder.encode(context)  # context the model reads, not <unk>


def test_a_log_that_calls_a_save_an_edit_still_never_makes_it_a_target(domain):
    """Logs read directly (``--data DIR``, ``logs:``) keep the edit flag an older add-on wrote."""
    from nep_core.examples import ExampleReport, make_examples

    events = [
        Event(t=0.0, action=Action(kind="mesh.primitive_cube_add")),
        Event(t=1.0, action=Action(kind="image.save_all_modified", edit=True)),
        Event(t=2.0, action=Action(kind="object.shade_smooth")),
    ]
    report = ExampleReport()
    examples = make_examples(Session(id="old", domain="blender", events=events), domain, report=report)
    targets = {example.trigger: example.target.kind for example in examples}
    assert targets[0] == "object.shade_smooth"  # the save is context: the next real edit is the target
    assert "image.save_all_modified" not in targets.values()
    assert report.unwritable_targets == 0
    last = next(example for example in examples if example.trigger == 2)
    assert last.context.history[1].action.edit is False  # the history says so too


def test_the_addon_collector_reads_an_older_logs_outside_call_as_context(domain, tmp_path):
    from nep_core.collector import CollectReport
    from nep_core.sessionlog import SessionLogWriter

    path = tmp_path / "s1.jsonl"
    header = {"nep": 1, "domain": "blender", "session": "s1", "created": "2026-11-23T10:00:00Z", "meta": {"source": "addon"}}
    with SessionLogWriter(path, header) as log:
        for t, kind in enumerate(("mesh.primitive_cube_add", "image.save_all_modified", "object.shade_smooth")):
            log.append({"t": float(t), "action": {"kind": kind, "args": {}, "edit": True}})
    report = CollectReport()
    sessions = list(domain.collectors["addon"].collect(str(tmp_path), report))
    assert [(event.action.kind, event.action.edit) for event in sessions[0].events] == [
        ("mesh.primitive_cube_add", True), ("image.save_all_modified", False), ("object.shade_smooth", True)
    ]


ACCEPT_RUNNER = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
import bpy
from addon_scenarios import install, modules, preferences

zip_path, folder, out, kinds = sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
install(zip_path)
_, runtime, bpy_calls = modules()
preferences().record = False
state = runtime.RUNTIME
texture = os.path.join(folder, "texture.png")
image = bpy.data.images.new("Texture", 4, 4)
image.filepath_raw = texture
image.file_format = "PNG"
image.save()
saved = open(texture, "rb").read()
image.pixels = [0.5] * len(image.pixels)  # painted since: the image is modified, its file not yet
result = {"dirty": image.is_dirty, "unsafe": {kind: runtime.unsafe_reason(kind, {}) for kind in kinds}, "accept": []}
for kind in kinds:
    state.suggestions = [{"action": {"kind": kind}, "probability": 0.2, "confidence": 0.2, "label": kind,
                          "request_id": None, "shown_at": 0.0, "generation": state.generation}]  # made for the history as it is
    returned = sorted(bpy.ops.nep.accept("EXEC_DEFAULT", True, index=0))
    result["accept"].append([kind, returned, state.outcome])
result["file_untouched"] = open(texture, "rb").read() == saved
if result["file_untouched"]:
    bpy.ops.image.save_all_modified()  # what Accept ran before it refused such calls
    result["run_directly_overwrites"] = open(texture, "rb").read() != saved
with open(out, "w") as handle:
    json.dump(result, handle)
"""


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs bpy (pip install bpy)")
def test_accept_refuses_a_call_outside_the_scene_and_leaves_the_file_alone(tmp_path):
    from nep_blender.cli import build_addon

    zip_path = build_addon(tmp_path / "dist")
    out = tmp_path / "result.json"
    kinds = ["image.save_all_modified", "image.save", "ptcache.bake_all", "export_scene.fbx", "node.clipboard_copy",
             "text.insert", "image.unpack"]
    env_home = {"BLENDER_USER_RESOURCES": str(tmp_path / "blender-user"), "HOME": str(tmp_path / "home")}
    process = subprocess.run(
        [sys.executable, "-c", ACCEPT_RUNNER, str(HERE), str(zip_path), str(tmp_path), str(out), json.dumps(kinds)],
        capture_output=True, text=True, timeout=180, env={**os.environ, **env_home}, cwd=tmp_path,
    )
    assert out.exists(), process.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["dirty"]
    for kind in kinds:
        expected = "renders or bakes" if kind.startswith("ptcache.") else "can reach outside the scene"
        assert expected in result["unsafe"][kind] and "NEP never runs it from a suggestion" in result["unsafe"][kind], kind
    assert result["accept"] == [[kind, ["CANCELLED"], f"Refused: {result['unsafe'][kind]}"] for kind in kinds]
    assert result["file_untouched"] and result["run_directly_overwrites"]


COPY_BUFFER_RUNNER = r"""
import json, os, sys
import bpy

folder, out = sys.argv[1], sys.argv[2]
bpy.context.preferences.filepaths.temporary_directory = folder
written = {}

def files():
    return {name for name in os.listdir(folder) if name.endswith(".blend")}

def run(kind, call):
    before = files()
    call()
    written[kind] = sorted(files() - before)

bpy.ops.object.armature_add()
bpy.ops.object.mode_set(mode="POSE")
bpy.ops.pose.select_all(action="SELECT")
run("pose.copy", bpy.ops.pose.copy)
bpy.ops.object.mode_set(mode="OBJECT")
bpy.ops.mesh.primitive_cube_add()
cube = bpy.context.active_object
material = bpy.data.materials.new("Paint")
cube.data.materials.append(material)
with bpy.context.temp_override(material=material, object=cube):
    run("material.copy", bpy.ops.material.copy)
with open(out, "w") as handle:
    json.dump(written, handle)
"""


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="needs bpy (pip install bpy)")
def test_copy_and_paste_through_a_file_in_blenders_temporary_folder_is_outside_the_scene(tmp_path):
    """Blender keeps the pose and material copy buffers as .blend files that every Blender of the user
    reads back on paste; NEP suggests neither half."""
    from nep_blender.bpy_calls import outside_reason

    out = tmp_path / "written.json"
    process = subprocess.run([sys.executable, "-c", COPY_BUFFER_RUNNER, str(tmp_path), str(out)],
                             capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert out.exists(), process.stderr[-3000:]
    written = json.loads(out.read_text())
    assert written == {"pose.copy": ["copybuffer_pose.blend"], "material.copy": ["copybuffer_material.blend"]}
    for kind in ("pose.copy", "pose.paste", "material.copy", "material.paste"):
        assert "can reach outside the scene" in outside_reason(kind), kind
    assert not outside_reason("uv.copy") and not outside_reason("graph.paste")
