"""The `replay` verifier: sessions replayed in real headless bpy, then the suggestion run there."""

from __future__ import annotations

import math

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

    verifier = ReplayVerifier(domain.action_space, timeout=60)
    yield verifier
    verifier.close()


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


def test_no_edit_is_judged_against_the_reference(verifier):
    context = Context(history=history(CUBE), session_id="no-edit")
    assert verifier.verify(context, NO_EDIT, NO_EDIT).reward == 1.0
    assert verifier.verify(context, NO_EDIT, Action(kind="object.shade_smooth")).reward == 0.0


def test_synthetic_sessions_replay_without_errors_and_reuse_their_prefix(domain):
    from nep_blender.verifier import ReplayVerifier

    verifier = ReplayVerifier(domain.action_space, timeout=60)
    try:
        sessions = list(domain.collectors["synthetic"].collect("3", CollectReport(), seed=21))
        checked = 0
        for session in sessions:
            for position in range(1, len(session.events)):
                action = session.events[position].action
                if not action.edit:
                    continue
                context = Context(history=session.events[:position], session_id=session.id)
                verdict = verifier.verify(context, action, action)
                assert verdict.details["replay_errors"] == 0, (session.id, position)
                assert verdict.valid and verdict.reward == 1.0, (session.id, position, action, verdict.details)
                checked += 1
        assert checked > 20
        # Each session's history grew by one action at a time: every action was replayed about once.
        total_actions = sum(len(session.events) for session in sessions)
        assert verifier.stats["replayed_calls"] <= total_actions
    finally:
        verifier.close()


def test_a_hung_worker_is_stopped_and_replaced(domain):
    from nep_blender.verifier import ReplayVerifier

    verifier = ReplayVerifier(domain.action_space, timeout=0.05)  # shorter than bpy takes to start
    try:
        context = Context(history=history(CUBE), session_id="slow")
        verdict = verifier.verify(context, Action(kind="object.shade_smooth"), None)
        assert not verdict.valid and "no answer from bpy within" in verdict.details["error"]
        assert verifier.stats["timeouts"] == 1 and verifier.pool[0].process is None
        verifier.timeout = 60
        assert verifier.verify(context, Action(kind="object.modifier_add", args={"type": "BEVEL"}), None).valid
    finally:
        verifier.close()


def test_angles_round_trip_into_blender(verifier):
    context = Context(history=history(CUBE), session_id="angles")
    rotate = Action(kind="transform.rotate", args={"value": math.radians(45), "orient_axis": "Z"})
    assert verifier.verify(context, rotate, rotate).reward == 1.0
