"""The `replay` verifier: sessions replayed in real headless bpy, then the suggestion run there."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import pytest

from nep_core.actions import NO_EDIT, Action
from nep_core.collector import CollectReport
from nep_core.session import Context, Event

OBJECT = {"mode": "OBJECT", "active": "NONE", "selected": 0}


@pytest.fixture(scope="module")
def domain():
    from nep_core.plugins import get_domain

    return get_domain("blender")


@pytest.fixture(scope="module")
def verifier(domain):
    from nep_blender.verifier import ReplayVerifier

    with ReplayVerifier(domain.action_space, workers=1, timeout=60) as verifier:
        yield verifier


def history(*calls) -> list[Event]:
    return [Event(t=float(index), action=Action(kind=kind, args=args, edit=edit)) for index, (kind, args, edit) in enumerate(calls)]


CUBE = ("mesh.primitive_cube_add", {"size": 1.0}, True)
EDIT_MODE = ("object.mode_set", {"mode": "EDIT"}, True)


def test_an_edit_that_runs_and_changes_the_scene_is_valid(verifier):
    context = Context(history=history(CUBE), session_id="valid-edit")
    bevel = Action(kind="object.modifier_add", args={"type": "BEVEL"})
    verdict = verifier.verify(context, bevel, bevel)
    assert verdict.valid and verdict.reward == 1.0 and verdict.details["scene_changed"] == 1.0
    other_settings = verifier.verify(context, Action(kind="object.modifier_add", args={"type": "SUBSURF"}), bevel)
    assert other_settings.valid and other_settings.reward == 0.5
    other_operator = verifier.verify(context, Action(kind="object.shade_smooth"), bevel)
    assert other_operator.valid and other_operator.reward == 0.0


def test_settings_within_the_quantization_tolerance_earn_full_reward(verifier):
    context = Context(history=history(CUBE, EDIT_MODE), session_id="tolerance")
    reference = Action(kind="mesh.extrude_region_move", args={"TRANSFORM_OT_translate": {"value": [0.0, 0.0, 1.0]}})
    close = Action(kind="mesh.extrude_region_move", args={"TRANSFORM_OT_translate": {"value": [0.0, 0.0, 1.02]}})
    verdict = verifier.verify(context, close, reference)
    assert verdict.valid and verdict.reward == 1.0


def test_apply_without_a_modifier_name_applies_the_active_modifier(verifier):
    bevelled = Context(history=history(CUBE, ("object.modifier_add", {"type": "BEVEL"}, True)), session_id="apply")
    apply = Action(kind="object.modifier_apply")  # suggestions carry no strings, so no modifier name
    verdict = verifier.verify(bevelled, apply, apply)
    assert verdict.valid and verdict.reward == 1.0 and verdict.details["scene_changed"] == 1.0
    assert not verifier.verify(Context(history=history(CUBE), session_id="apply-nothing"), apply, None).valid


def test_assigning_faces_a_material_and_extruding_a_bone_are_edits(verifier):
    slots = history(
        ("mesh.primitive_uv_sphere_add", {}, True), ("object.material_slot_add", {}, True),
        ("object.material_slot_add", {}, True), EDIT_MODE, ("mesh.select_all", {"action": "SELECT"}, False),
    )
    assign = verifier.verify(Context(history=slots, session_id="assign"), Action(kind="object.material_slot_assign"), None)
    assert assign.valid and assign.details["scene_changed"] == 1.0
    armature = Context(history=history(("object.armature_add", {}, True), EDIT_MODE), session_id="bones")
    extrude = Action(kind="armature.extrude_move", args={"TRANSFORM_OT_translate": {"value": [0.0, 0.0, 1.0]}})
    verdict = verifier.verify(armature, extrude, None)
    assert verdict.valid and verdict.details["scene_changed"] == 1.0


def test_a_call_whose_poll_fails_is_invalid(verifier):
    context = Context(history=history(CUBE), session_id="poll")  # object mode: mesh edit tools do not apply
    verdict = verifier.verify(context, Action(kind="mesh.inset", args={"thickness": 0.1}), None)
    assert not verdict.valid and "poll() failed" in verdict.details["error"]


def test_unknown_operators_and_ill_typed_settings_are_invalid(verifier):
    context = Context(history=history(CUBE), session_id="unknown")
    unknown = verifier.verify(context, Action(kind="mesh.fold_into_swan"), None)
    assert not unknown.valid and "no operator 'mesh.fold_into_swan'" in unknown.details["error"]
    ill_typed = verifier.verify(context, Action(kind="object.modifier_add", args={"type": "ORIGAMI"}), None)
    assert not ill_typed.valid and "has no item 'ORIGAMI'" in ill_typed.details["error"]


def test_an_edit_that_changes_nothing_is_invalid_but_a_selection_is_fine(verifier):
    empty = Context(history=history(), session_id="nothing")
    no_change = verifier.verify(empty, Action(kind="object.shade_smooth"), None)  # nothing to shade
    assert not no_change.valid
    select = Action(kind="object.select_all", args={"action": "DESELECT"}, edit=False)
    assert verifier.verify(Context(history=history(CUBE), session_id="select"), select, None).valid


def test_undo_in_the_history_is_replayed_as_undo(verifier):
    undone = history(CUBE, ("object.modifier_add", {"type": "BEVEL"}, True), ("ed.undo", {}, False))
    # After the undo the cube has no modifier, so removing the bevel modifier cannot work.
    verdict = verifier.verify(Context(history=undone, session_id="undo"), Action(kind="object.modifier_remove", args={"modifier": "Bevel"}), None)
    assert not verdict.valid
    kept = history(CUBE, ("object.modifier_add", {"type": "BEVEL"}, True))
    assert verifier.verify(Context(history=kept, session_id="no-undo"), Action(kind="object.modifier_remove", args={"modifier": "Bevel"}), None).valid


def test_a_scene_the_replay_cannot_rebuild_does_not_judge_validity(verifier):
    # The user clicked the cube (no operator, so not logged) and deleted it: replayed, nothing is
    # selected, so their own delete fails there, and the scene cannot judge a prediction either.
    clicked = Context(history=history(CUBE, ("object.select_all", {"action": "DESELECT"}, False)), session_id="clicked")
    delete = Action(kind="object.delete")
    users_own = verifier.verify(clicked, delete, delete)
    assert users_own.valid and users_own.reward == 1.0 and users_own.details["scene_unknown"] == 1.0
    assert users_own.details["error"] == "object.delete returned CANCELLED"
    other = verifier.verify(clicked, Action(kind="object.shade_smooth"), delete)
    assert other.valid and other.reward == 0.0 and other.details["scene_unknown"] == 1.0
    assert not verifier.verify(clicked, delete, None).valid  # with no reference, no way to tell
    refused = verifier.verify(clicked, Action(kind="mesh.fold_into_swan"), delete)
    assert not refused.valid and refused.details["refused"] is True
    # Where the user's edit runs in the replayed scene, a prediction that fails stays invalid.
    selected = Context(history=history(CUBE), session_id="selected")
    failing = verifier.verify(selected, Action(kind="mesh.inset", args={"thickness": 0.1}), delete)
    assert not failing.valid and failing.reward == 0.0 and failing.details["scene_unknown"] == 0.0


def made_in(kind, args, active, selected):
    """An object-mode call logged with the selection it was made in, named as the add-on logs it."""
    return Action(kind=kind, args=args, context={"mode": "OBJECT", "active": "MESH", "selected": len(selected), "active_name": active, "selected_names": selected})


def test_the_selection_a_call_was_made_in_is_restored_before_it_runs(verifier):
    # Two cubes; the user clicked the first (no operator, so not logged), bevelled it and now removes the bevel.
    second = made_in("mesh.primitive_cube_add", {"size": 1.0, "location": [3.0, 0.0, 0.0]}, "Cube", ["Cube"])
    bevel = made_in("object.modifier_add", {"type": "BEVEL"}, "Cube", ["Cube"])
    remove = made_in("object.modifier_remove", {"modifier": "Bevel"}, "Cube", ["Cube"])
    named = [Event(t=0.0, action=Action(kind=CUBE[0], args=CUBE[1], context=OBJECT)), Event(t=1.0, action=second), Event(t=2.0, action=bevel)]
    verdict = verifier.verify(Context(history=named, session_id="clicked-first"), remove, remove)
    assert verdict.valid and verdict.reward == 1.0 and verdict.details["scene_unknown"] == 0.0, verdict.details
    # The prediction runs in the selection of the user's next action: with the second cube clicked
    # (its smooth shading runs), there is no bevel to remove.
    smooth_second = made_in("object.shade_smooth", {}, "Cube.001", ["Cube.001"])
    verdict = verifier.verify(Context(history=named, session_id="clicked-first"), Action(kind=remove.kind, args=remove.args), smooth_second)
    assert not verdict.valid and verdict.details["scene_unknown"] == 0.0, verdict.details
    # Logged without names (an older log), the bevel went onto the second cube, the active one after
    # its add: the user's own removal fails there, so the scene cannot judge.
    unnamed = [Event(t=event.t, action=Action(kind=event.action.kind, args=event.action.args)) for event in named]
    verdict = verifier.verify(Context(history=unnamed, session_id="clicked-first-unnamed"), remove, remove)
    assert verdict.valid and verdict.details["scene_unknown"] == 1.0
    # A selection that names an object the rebuilt scene lacks (renamed in the outliner, which is not
    # an operator) leaves the replayed selection as it was, as before there were names.
    renamed = made_in("object.delete", {}, "Body", ["Body"])
    verdict = verifier.verify(Context(history=history(CUBE), session_id="renamed"), renamed, renamed)
    assert verdict.valid and verdict.details["scene_unknown"] == 0.0 and "error" not in verdict.details
    # A click after Deselect All, then Delete: the user's own delete runs where they made it.
    deselected = history(CUBE, ("object.select_all", {"action": "DESELECT"}, False))
    delete = made_in("object.delete", {}, "Cube", ["Cube"])
    verdict = verifier.verify(Context(history=deselected, session_id="deselected-then-clicked"), delete, delete)
    assert verdict.valid and verdict.details["scene_unknown"] == 0.0 and "error" not in verdict.details


def test_no_edit_is_judged_against_the_reference(verifier):
    context = Context(history=history(CUBE), session_id="no-edit")
    assert verifier.verify(context, NO_EDIT, NO_EDIT).reward == 1.0
    assert verifier.verify(context, NO_EDIT, Action(kind="object.shade_smooth")).reward == 0.0


def test_synthetic_sessions_replay_without_errors_and_reuse_their_prefix(domain):
    from nep_blender.verifier import ReplayVerifier

    verifier = ReplayVerifier(domain.action_space, workers=1, timeout=60)
    try:
        sessions = list(domain.collectors["synthetic"].collect("3", CollectReport(), seed=21))
        assert {session.meta["start_scene"] for session in sessions} == {"empty", "startup"}
        checked = 0
        for session in sessions:
            for position in range(1, len(session.events)):
                action = session.events[position].action
                if not action.edit:
                    continue
                context = Context(history=session.events[:position], session_id=session.id, meta=session.meta)
                verdict = verifier.verify(context, action, action)
                assert verdict.details["replay_errors"] == 0, (session.id, position)
                assert verdict.valid and verdict.reward == 1.0, (session.id, position, action, verdict.details)
                assert verdict.details["scene_unknown"] == 0.0, (session.id, position, action, verdict.details)
                checked += 1
        assert checked > 20
        # Each session's history grew by one action at a time: every action was replayed about once.
        total_actions = sum(len(session.events) for session in sessions)
        assert verifier.stats["replayed_calls"] <= total_actions
    finally:
        verifier.close()


SLOW_SPHERE = Action(kind="mesh.primitive_uv_sphere_add", args={"segments": 512, "ring_count": 256})  # about 30 s in bpy


def test_a_hung_worker_is_stopped_and_replaced(domain):
    from nep_blender.verifier import ReplayVerifier

    with ReplayVerifier(domain.action_space, workers=1, timeout=60) as verifier:
        context = Context(history=history(CUBE), session_id="slow")
        assert verifier.verify(context, Action(kind="object.modifier_add", args={"type": "SUBSURF"}), None).valid
        killed_scratch = Path(verifier.pool[0].scratch)
        assert any(killed_scratch.iterdir())  # the worker's scene files
        verifier.timeout = 1.0  # for the slow call only: a busy machine may take over 1 s for the others
        started = time.monotonic()
        verdict = verifier.verify(context, SLOW_SPHERE, None)
        assert time.monotonic() - started < 10  # bpy's start is not counted, the replay is cut at 1 s
        assert not verdict.valid and verdict.details["error"].startswith("timed out: bpy took over 1 s")
        verifier.timeout = 60
        assert verifier.stats["timeouts"] == 1 and not verifier.pool[0].running
        assert not killed_scratch.exists()  # a killed worker leaves no scene files behind
        bevel = Action(kind="object.modifier_add", args={"type": "BEVEL"})
        assert verifier.verify(context, bevel, bevel).reward == 1.0
        assert verifier.pool[0].starts == 2  # the subdivision's verdict came from the first worker
        last_scratch = Path(verifier.pool[0].scratch)
    assert not last_scratch.exists()


def test_a_worker_that_dies_is_reported_and_restarted(verifier):
    context = Context(history=history(CUBE), session_id="crash")
    bevel = Action(kind="object.modifier_add", args={"type": "BEVEL"})
    assert verifier.verify(context, bevel, None).valid
    worker = verifier.pool[verifier._homes["crash"]]
    worker.process.kill()  # dead between two requests: restarted without a word
    assert verifier.verify(context, bevel, None).valid
    killer = threading.Timer(0.5, worker.process.kill)  # dead in the middle of one
    killer.start()
    verdict = verifier.verify(context, SLOW_SPHERE, None)
    killer.join()
    assert not verdict.valid and verdict.details["error"] == "the bpy worker crashed (SIGKILL; worker restarted)"
    assert verifier.verify(context, bevel, bevel).reward == 1.0


def test_calls_that_reach_outside_the_scene_never_run(verifier, tmp_path):
    target = tmp_path / "written.blend"
    save = ("wm.save_as_mainfile", {"filepath": str(target)}, False)
    context = Context(history=history(CUBE, save), session_id="outside")
    verdict = verifier.verify(context, Action(kind="wm.save_as_mainfile", args={"filepath": str(target)}, edit=False), None)
    assert not verdict.valid and verdict.details["error"].startswith("not run: wm.save_as_mainfile")
    assert verdict.details["replay_errors"] == 0 and not target.exists()
    assert verifier.verify(context, Action(kind="object.modifier_add", args={"type": "BEVEL"}), None).valid


def test_hostile_calls_in_a_log_never_run_code_or_touch_files(verifier, tmp_path):
    """Found by a review: bpy.ops finds WM.context_set_value too (it exec()s its value), and presets, the
    copy buffer and merge_images write files; none was on the lists, which named modules in lower case."""
    marker = tmp_path / "ran"
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('x') or 7"
    merged = tmp_path / "merged.exr"
    hostile = [
        ("WM.context_set_value", {"data_path": "scene.frame_current", "value": code}),
        ("Wm.context_set_value", {"data_path": "scene.frame_current", "value": code}),
        ("SCRIPT.python_file_run", {}),
        ("TEXT.run_script", {}),
        ("camera.preset_add", {"name": "NEP_TEST_PRESET"}),
        ("camera.preset_add", {"name": "NEP_TEST_PRESET", "remove_name": True}),
        ("cycles.merge_images", {"input_filepath1": str(tmp_path / "a.exr"), "input_filepath2": str(tmp_path / "a.exr"),
                                 "output_filepath": str(merged)}),
        ("view3d.copybuffer", {}),
        ("view3d.pastebuffer", {}),
        ("node.add_image", {"filepath": str(tmp_path / "a.png")}),
    ]
    calls = [CUBE, *((kind, args, True) for kind, args in hostile)]
    context = Context(history=history(*calls), session_id="hostile")
    for kind, args in hostile:
        verdict = verifier.verify(context, Action(kind=kind, args=args), None)
        assert not verdict.valid and verdict.details["refused"] is True, (kind, verdict.details)
    assert verdict.details["replay_errors"] == 0  # the history's hostile calls were passed over, unrun
    assert not marker.exists() and not merged.exists()
    assert verifier.verify(context, Action(kind="object.modifier_add", args={"type": "BEVEL"}), None).valid


def test_bakes_to_disk_are_polled_and_bakes_to_keyframes_run():
    from nep_blender.replay_worker import polled_only, reaches_outside

    assert polled_only("fluid.bake_all") and polled_only("ptcache.free_bake_all") and polled_only("object.geometry_node_bake_single")
    assert not polled_only("nla.bake") and not polled_only("action.bake_keys") and not polled_only("mesh.bevel")
    assert reaches_outside("Mesh.primitive_cube_add", {}) and not reaches_outside("mesh.primitive_cube_add", {})


def test_a_replay_worker_that_asks_for_too_much_memory_fails_alone(domain, monkeypatch):
    """A 3000 x 3000 grid takes gigabytes; with the worker's memory capped it fails, and the next call works."""
    from nep_blender.verifier import ReplayVerifier

    monkeypatch.setenv("NEP_REPLAY_MEMORY_GB", "2.5")  # bpy maps about 1.3 GiB when it starts
    grid = ("mesh.primitive_grid_add", {"x_subdivisions": 3000, "y_subdivisions": 3000}, True)
    with ReplayVerifier(domain.action_space, workers=1, timeout=60) as capped:
        verdict = capped.verify(Context(history=history(CUBE, grid), session_id="grid"), Action(kind="object.modifier_add", args={"type": "BEVEL"}), None)
        assert not verdict.valid and verdict.details["error"].startswith("the bpy worker crashed"), verdict.details
        after = capped.verify(Context(history=history(CUBE), session_id="after"), Action(kind="object.modifier_add", args={"type": "BEVEL"}), None)
        assert after.valid


def test_renders_and_bakes_are_checked_by_their_poll_and_never_run(verifier):
    """A render of 250 frames in the history would hold the worker past its timeout if it ran."""
    camera = ("object.camera_add", {"location": [7.0, -7.0, 4.0]}, True)
    render = ("render.render", {"animation": True, "write_still": True}, False)
    context = Context(history=history(CUBE, camera, render), session_id="render")
    bevel = Action(kind="object.modifier_add", args={"type": "BEVEL"})
    after = verifier.verify(context, bevel, bevel)
    assert after.valid and after.reward == 1.0 and after.details["replay_errors"] == 0, after.details
    predicted = verifier.verify(context, Action(kind="render.render", args={"write_still": True}, edit=False), None)
    assert predicted.valid and predicted.details["scene_changed"] == 0.0 and predicted.details["refused"] is False
    ill_typed = verifier.verify(context, Action(kind="render.render", args={"animation": "yes"}, edit=False), None)
    assert not ill_typed.valid and ill_typed.details["refused"] is True
    bake = verifier.verify(context, Action(kind="object.bake", args={}, edit=False), None)  # Eevee cannot bake: its poll fails
    assert not bake.valid and bake.details["error"] == "object.bake: poll() failed in this scene"


def test_a_batch_spreads_over_the_workers_and_matches_one_by_one(domain, verifier):
    from nep_blender.verifier import ReplayVerifier

    items = []
    for size in (1.0, 2.0, 3.0):
        steps = [("mesh.primitive_cube_add", {"size": size}, True), EDIT_MODE, ("mesh.select_all", {"action": "SELECT"}, False),
                 ("mesh.inset", {"thickness": 0.1, "use_individual": True}, True), ("object.mode_set", {"mode": "OBJECT"}, True),
                 ("object.modifier_add", {"type": "BEVEL"}, True)]
        for position in range(1, len(steps)):
            kind, args, edit = steps[position]
            items.append((Context(history=history(*steps[:position]), session_id=f"batch-{size}"), Action(kind=kind, args=args, edit=edit), None))
    items.append((items[0][0], NO_EDIT, NO_EDIT))
    items.reverse()  # a batch sorts each session by history length itself
    with ReplayVerifier(domain.action_space, workers=2, timeout=60) as parallel:
        verdicts = parallel.verify_many(items)
        assert all(worker.starts == 1 for worker in parallel.pool)
        assert parallel.stats["replayed_calls"] == 3 * (len(steps) - 1)  # each session replayed once, by its suffixes
    assert [verdict.valid for verdict in verdicts] == [True] * len(items)
    assert verdicts == [verifier.verify(*item) for item in items]
    with ReplayVerifier(domain.action_space, workers=1, timeout=60, reuse_prefix=False) as from_scratch:
        assert from_scratch.verify_many(items) == verdicts
        assert from_scratch.stats["replayed_calls"] == 3 * sum(range(1, len(steps)))


def test_undo_and_redo_cancel_and_restore_calls():
    from nep_blender.replay_worker import effective_calls

    add, select, bevel = {"kind": "add"}, {"kind": "select", "undoable": True, "edit": False}, {"kind": "bevel"}
    view = {"kind": "orbit", "undoable": False, "edit": False}
    undo, redo = {"kind": "ed.undo"}, {"kind": "ed.redo"}
    assert effective_calls([add, bevel, view, undo]) == [add, view]  # views keep no undo step
    assert effective_calls([add, bevel, select, undo]) == [add, bevel]  # a selection does
    assert effective_calls([add, bevel, undo, undo, redo]) == [add]
    assert effective_calls([add, bevel, undo, redo]) == [add, bevel]
    assert effective_calls([add, bevel, undo, select, redo]) == [add, select]  # a new step forgets the redo


def test_angles_round_trip_into_blender(verifier):
    context = Context(history=history(CUBE), session_id="angles")
    rotate = Action(kind="transform.rotate", args={"value": math.radians(45), "orient_axis": "Z"})
    assert verifier.verify(context, rotate, rotate).reward == 1.0
