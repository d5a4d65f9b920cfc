"""The blender domain's synthetic sessions: generated in real bpy, deterministic, well-formed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_core.sessionlog import read_session, write_session


@pytest.fixture(scope="module")
def domain():
    from nep_core.plugins import get_domain

    return get_domain("blender")


@pytest.fixture(scope="module")
def generated(domain):
    report = CollectReport()
    sessions = list(domain.collectors["synthetic"].collect("40", report, seed=11))
    return sessions, report


def test_forty_sessions_cover_the_recipe_families_and_report_counts(generated):
    from nep_blender.synthetic.recipes import FAMILIES

    sessions, report = generated
    assert len(FAMILIES) >= 15
    assert len(sessions) + report.counts.get("sessions dropped (a recipe step failed)", 0) == 40
    assert len(sessions) >= 38 and report.counts["sessions"] == len(sessions)
    seen = Counter(family for session in sessions for family in session.meta["families"])
    assert len(seen) >= 15 and report.counts["recipe families"] == len(seen)
    assert all(report.counts[f"family {family}"] == count for family, count in seen.items())
    assert report.counts["actions"] == sum(len(session.events) for session in sessions)
    assert report.counts["generation ms per session"] > 0
    lengths = [len(session.events) for session in sessions]
    assert min(lengths) >= 15 and 30 <= sum(lengths) / len(lengths) <= 70
    assert all(session.meta["family"] == session.meta["families"][0] and session.meta["app"].startswith("bpy ") for session in sessions)


FAMILY_RUNNER = """
import json, os, random, sys
out = sys.argv[1]
os.dup2(2, 1)
import bpy
from nep_blender.action_space import BlenderActionSpace
from nep_blender.bpy_calls import viewport_override
from nep_blender.registry import load_registry
from nep_blender.synthetic.builder import RecipeFailed, SessionBuilder
from nep_blender.synthetic.recipes import FAMILIES
space = BlenderActionSpace(load_registry())
runs = {}
for name, recipe in sorted(FAMILIES.items()):
    for seed in range(3):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        bpy.ops.ed.undo_push(message="start")
        builder = SessionBuilder(bpy, space, random.Random(f"{name}:{seed}"))
        try:
            with bpy.context.temp_override(**viewport_override(bpy)):
                recipe(builder)
        except RecipeFailed as error:
            runs.setdefault(name, []).append({"error": str(error)})
        else:
            runs.setdefault(name, []).append({"actions": [event["action"] for event in builder.events]})
with open(out, "w") as handle:
    json.dump(runs, handle)
"""

SHOWN_BY = {
    "rigid_body_drop": ("rigidbody.object_add", {"type": "PASSIVE"}), "dominoes": ("ptcache.bake_all", {}),
    "cloth_drape": ("object.modifier_add", {"type": "CLOTH"}), "terrain": ("texture.new", {}),
    "camera_rig": ("object.constraint_add", {"type": "TRACK_TO"}), "curve_path": ("curve.select_all", {"action": "SELECT"}),
    "simple_rig": ("object.posemode_toggle", {}), "mesh_repair": ("mesh.normals_make_consistent", {}),
    "text_sign": ("font.delete", {}),
}
"""An operator call (with at least these arguments) that each family shows in one of three runs."""


def test_every_family_runs_in_bpy_and_shows_its_operators(tmp_path):
    from nep_blender.synthetic.recipes import FAMILIES

    out = tmp_path / "runs.json"
    subprocess.run([sys.executable, "-c", FAMILY_RUNNER, str(out)], check=True, capture_output=True, timeout=600)
    runs = json.loads(out.read_text())
    assert sorted(runs) == sorted(FAMILIES)
    failed = {name: run["error"] for name, family_runs in runs.items() for run in family_runs if "error" in run}
    assert not failed
    for name, (kind, args) in SHOWN_BY.items():
        calls = [action for run in runs[name] for action in run["actions"] if action["kind"] == kind]
        assert any(args.items() <= action.get("args", {}).items() for action in calls), (name, kind)
    # strings and item-less enums are not tokens, but the log keeps them for replay: the text typed, a constraint's type
    typed = [action["args"]["text"] for run in runs["text_sign"] for action in run["actions"] if action["kind"] == "font.text_insert"]
    assert typed and all(typed)


def test_the_same_seed_gives_the_same_sessions_whatever_the_worker_count(generated):
    from nep_blender.synthetic.collector import SyntheticCollector

    sessions, _ = generated
    again = list(SyntheticCollector(workers=1).collect("6", CollectReport(), seed=11))
    first = [session for session in sessions if int(session.id.rsplit("-", 1)[1]) < 6]
    assert [session.id for session in again] == [session.id for session in first]
    assert [[event.to_json() for event in session.events] for session in again] == [
        [event.to_json() for event in session.events] for session in first
    ]
    other = list(SyntheticCollector(workers=1).collect("1", CollectReport(), seed=12))
    assert [event.to_json() for event in other[0].events] != [event.to_json() for event in sessions[0].events]


def test_every_action_round_trips_through_the_action_space(generated, domain):
    sessions, _ = generated
    space = domain.action_space
    for session in sessions:
        for event in session.events:
            action = event.action
            decoded = space.decode(space.encode(action))
            spec = space.operator(action.kind)
            written = {name: value for name, value in action.args.items() if "_OT_" in name or spec.property(name).tokenized}
            assert (decoded.kind, dict(decoded.args)) == (action.kind, written), session.id
            assert action.edit == space.registry.get(action.kind).is_edit
            assert set(action.context) == {"mode", "active", "selected", "active_name", "selected_names"}
            assert len(action.context["selected_names"]) == action.context["selected"]  # for the replay to select them again


def test_sessions_have_views_selections_undo_pauses_and_growing_time(generated):
    sessions, _ = generated
    kinds = Counter(event.action.kind for session in sessions for event in session.events)
    for kind in ("view3d.view_orbit", "view3d.view_selected", "view3d.view_axis", "mesh.select_all", "object.select_all", "ed.undo"):
        assert kinds[kind] > 0, kind
    for kind in ("object.mode_set", "mesh.extrude_region_move", "mesh.inset", "mesh.bevel", "mesh.loopcut_slide", "object.modifier_add", "material.new"):
        assert kinds[kind] > 0, kind
    assert kinds["uv.smart_project"] + kinds["uv.unwrap"] + kinds["uv.cube_project"] > 0
    non_edits = sum(1 for session in sessions for event in session.events if not event.action.edit)
    assert 0.15 < non_edits / sum(kinds.values()) < 0.6
    gaps = [b.t - a.t for session in sessions for a, b in zip(session.events, session.events[1:])]
    assert min(gaps) > 0 and max(gaps) > 20  # pauses longer than the domain's pause threshold
    edit_mode = Counter(event.action.kind for session in sessions for event in session.events if event.action.context["mode"] == "EDIT_MESH")
    assert edit_mode["mesh.inset"] > 0 and edit_mode["object.mode_set"] > 0 and edit_mode["object.modifier_add"] == 0


def test_some_sessions_start_by_clearing_blenders_start_up_scene(generated):
    sessions, _ = generated
    starts = Counter(session.meta["start_scene"] for session in sessions)
    assert starts["startup"] >= 5 and starts["empty"] >= 5
    for session in sessions:
        first = [event.action.kind for event in session.events[:2]]
        clears = first[0] == "object.delete" or first == ["object.select_all", "object.delete"]
        assert clears == (session.meta["start_scene"] == "startup"), (session.id, first)


def test_scripts_option_also_writes_sessions_the_way_a_script_runs_them(domain):
    from nep_blender.synthetic.script_form import adds_an_object

    report = CollectReport()
    sessions = list(domain.collectors["synthetic"].collect("12?scripts=0.75", report, seed=11))
    recordings = {session.id: session for session in sessions if "form" not in session.meta}
    functions: dict[str, list] = {}
    for session in sessions:
        if session.meta.get("form") == "script":
            functions.setdefault(session.meta["source_id"], []).append(session)
    assert len(recordings) == 12 and 1 <= len(functions) <= 11
    assert not any(action.kind == "object.editmode_toggle" for session in recordings.values() for action in session.actions())
    assert report.counts["sessions also written as scripts"] == len(functions)
    assert report.counts["script functions"] == sum(map(len, functions.values()))
    written = Counter(action.kind for scripts in functions.values() for script in scripts for action in script.actions())
    assert written["object.editmode_toggle"] > 0 and written["object.mode_set"] > 0
    # some authors write each edit-mode block as a helper function: into edit mode, edits, back to object mode
    assert any(
        script.actions()[0].args.get("mode") == "EDIT" and script.actions()[-1].kind == "object.mode_set" and not script.actions()[-1].args
        and sum(action.kind == "object.mode_set" for action in script.actions()) == 2
        for scripts in functions.values() for script in scripts
    )
    for source, scripts in functions.items():
        recording = recordings[source]
        # one function per recipe family (a family too short for a function is left out)
        parts = len(recording.meta["families"]) + (recording.meta["start_scene"] == "startup")  # clearing the scene is a function too
        assert len(recording.meta["family_starts"]) == parts
        cleared = sum(script.meta["function"] == "clear" for script in scripts)  # the author starts by clearing the scene
        splits = sum(2 * (action.kind == "object.mode_set") + adds_an_object(action.kind) for action in recording.actions())  # helpers, small functions
        assert 1 <= len(scripts) <= parts + cleared + splits
        assert [script.id for script in scripts] == [f"{recording.id}-script{script.meta['function']}" for script in scripts]
        kinds = [action.kind for script in scripts for action in script.actions()]
        assert all(script.source == recording.source for script in scripts)
        assert not any(kind.startswith("view3d.") or kind == "ed.undo" for kind in kinds)
        assert all(not action.context for script in scripts for action in script.actions())  # a script knows no mode or selection
        undone = sum(action.kind == "ed.undo" for action in recording.actions())
        views = sum(action.kind.startswith("view3d.") for action in recording.actions())
        guards = sum(
            script.events[0].action.kind in ("object.mode_set", "object.editmode_toggle") and not script.events[0].action.args
            for script in scripts
        )
        ending, opening = 2, 3  # the author may end the script by saving, exporting or rendering (one or two calls) and start it by importing (one to three)
        longer_clearing = 1  # the author's way of clearing the scene may take a call more than the recording's
        copies, added_at = 0, None  # an author who adds anew writes a duplicate as the calls since the object's add
        for index, action in enumerate(recording.actions()):
            added_at = index if adds_an_object(action.kind) else added_at
            copies += index - added_at if action.kind == "object.duplicate_move" and added_at is not None else 0
        assert len(kinds) <= len(recording.events) - views - 2 * undone + guards + ending + opening + longer_clearing + 3 * cleared + copies
        assert not ("object.editmode_toggle" in kinds and "object.mode_set" in kinds)  # the author's habit, throughout
        assert all({round(b.t - a.t, 2) for a, b in zip(script.events, script.events[1:])} == {2.0} for script in scripts)


def test_sessions_survive_the_session_log_round_trip(generated, tmp_path):
    sessions, _ = generated
    for session in sessions[:5]:
        path = tmp_path / f"{session.id}.jsonl"
        write_session(path, session)
        back = read_session(path)
        assert [event.to_json() for event in back.events] == [event.to_json() for event in session.events]
        assert back.meta == session.meta and back.domain == "blender" and back.id == session.id


def test_a_bad_argument_is_a_one_line_error(domain):
    for argument in ("lots", "0", ""):
        with pytest.raises(NepError, match="ARGUMENT is a number of sessions, not"):
            list(domain.collectors["synthetic"].collect(argument, CollectReport()))
    with pytest.raises(NepError, match="option 'scripts' is a share from 0 to 1, not 2.0"):
        list(domain.collectors["synthetic"].collect("8?scripts=2", CollectReport()))
    with pytest.raises(NepError, match="synthetic: unknown option 'colour'"):
        list(domain.collectors["synthetic"].collect("8?colour=red", CollectReport()))


def test_a_worker_that_hangs_is_stopped_and_reported(monkeypatch):
    from nep_blender.synthetic import collector

    monkeypatch.setattr(collector, "SESSION_TIMEOUT", 0.3)  # shorter than bpy's start-up: every worker looks hung
    monkeypatch.setattr(collector, "MAX_RESTARTS", 1)
    report = CollectReport()
    assert list(collector.SyntheticCollector(workers=1).collect("3", report)) == []
    assert report.warnings[0] == "synthetic: a bpy worker wrote nothing for 0s and was stopped at session 0; that session is dropped"
    assert report.warnings[-1] == "synthetic: gave up on sessions 2..2 after 1 worker restarts"
    assert report.counts["sessions lost to failed workers"] == 3


def test_nep_collect_writes_synthetic_blender_sessions(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", "collect", "--domain", "blender", "--source", "synthetic:4", "--seed", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "300"},
    )
    assert result.returncode == 0, result.stderr
    printed = " ".join(result.stdout.split())  # the console wraps long lines
    assert "wrote 4 sessions" in printed and "recipe families: " in printed and "generation ms per session: " in printed
    logs = sorted(tmp_path.glob("*.jsonl"))
    assert [log.name for log in logs] == [f"blender-synth-3-{index:05d}.jsonl" for index in range(4)]
    header = json.loads(logs[0].read_text().splitlines()[0])
    assert header["domain"] == "blender" and header["meta"]["source"] == "synthetic"

    bad = subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", "collect", "--domain", "blender", "--source", "synthetic:lots", "--out", str(tmp_path / "bad")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "300"},
    )
    assert bad.returncode != 0 and "ARGUMENT is a number of sessions, not 'lots'" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr
