"""The blender action space: the registry read from the installed bpy, quantization, grammar, labels."""

from __future__ import annotations

import json
import math
import random

import pytest

from nep_core.action_space import EOS, NO_EDIT_TOKEN
from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction
from nep_core.session import Context, Event
from nep_blender.quantize import float_grid, float_token, int_grid, quantize_float, quantize_int
from nep_blender.registry import SNAPSHOT, installed_bpy_version, load_registry, read_registry_file


@pytest.fixture(scope="module")
def space():
    from nep_core.plugins import get_domain

    return get_domain("blender").action_space


def test_the_registry_is_read_from_the_installed_bpy(space):
    import importlib.metadata

    registry = load_registry()
    assert installed_bpy_version() == importlib.metadata.version("bpy")
    assert registry.blender.startswith(".".join(installed_bpy_version().split(".")[:2]))
    assert "blender" in registry.source and registry.source.endswith(f"operators-{installed_bpy_version()}.json")
    assert len(registry.operators) > 1500
    cube = registry.get("mesh.primitive_cube_add")
    size = cube.property("size")
    assert (size.type, size.default, size.min) == ("FLOAT", 2.0, 0.0)
    assert cube.label == "Add Cube" and cube.is_edit
    extrude = registry.get("mesh.extrude_region_move")
    assert extrude.property("TRANSFORM_OT_translate.value").length == 3
    assert not registry.get("view3d.view_orbit").is_edit and not registry.get("mesh.select_all").is_edit
    assert space.version == f"bpy-{registry.blender}"


def test_the_shipped_snapshot_matches_a_fresh_read_of_bpy_5_0_1():
    snapshot = read_registry_file(SNAPSHOT)
    assert snapshot.blender == "5.0.1"
    if load_registry().blender == "5.0.1":
        fresh = load_registry()
        assert set(snapshot.operators) == set(fresh.operators)
        for idname in ("mesh.bevel", "object.modifier_add", "transform.resize"):
            assert [p.name for p in snapshot.get(idname).properties] == [p.name for p in fresh.get(idname).properties]


def test_float_quantization_error_is_at_most_half_a_unit_in_the_second_digit():
    rng = random.Random(3)
    for _ in range(20000):
        value = rng.choice([-1, 1]) * 10 ** rng.uniform(-4, 6.2)
        quantized = quantize_float(value)
        if abs(value) < 0.0005:
            assert quantized == 0.0
        elif abs(value) >= 990000:
            assert quantized == math.copysign(990000, value)
        else:
            assert abs(quantized - value) <= max(0.05 * abs(value), 0.0005) + 1e-12, value
            assert quantize_float(quantized) == quantized  # the grid is a fixed point
            assert float(float_token(quantized)[2:]) == quantized  # and tokens round-trip
    assert quantize_float(0.25) == 0.25 and quantize_float(90.0) == 90.0 and quantize_float(1.234) == 1.2
    grid = float_grid()
    assert len(grid) == len(set(float_token(value) for value in grid))


def test_integer_quantization_is_exact_up_to_100_then_two_digits():
    assert [quantize_int(value) for value in (-100, -7, 0, 42, 100)] == [-100, -7, 0, 42, 100]
    for value in range(101, 200000, 37):
        assert abs(quantize_int(value) - value) <= 0.05 * value
    assert quantize_int(1234) == 1200 and quantize_int(10**7) == 990000
    assert set(int_grid(0, 100)) == set(range(101))


def test_actions_round_trip_through_tokens(space):
    extrude = Action(
        kind="mesh.extrude_region_move",
        args={"TRANSFORM_OT_translate": {"value": [0.0, 0.0, 1.234], "orient_type": "NORMAL"}},
    )
    tokens = space.encode(extrude)
    assert tokens == [
        "@mesh.extrude_region_move", "p:TRANSFORM_OT_translate.value", "f:0", "f:0", "f:1.2",
        "p:TRANSFORM_OT_translate.orient_type", "e:NORMAL",
    ]
    decoded = space.decode(tokens)
    assert decoded.args == {"TRANSFORM_OT_translate": {"value": [0.0, 0.0, 1.2], "orient_type": "NORMAL"}}
    assert decoded.edit
    rotate = space.decode(space.encode(Action(kind="transform.rotate", args={"value": math.radians(45)})))
    assert rotate.args["value"] == pytest.approx(math.radians(45))  # angles are exact in degrees
    assert space.encode(Action(kind="mesh.primitive_cube_add", args={"size": 2.0})) == ["@mesh.primitive_cube_add"]
    assert space.encode(Action(kind="mesh.primitive_cube_add", args={"size": 2.0})) == ["@mesh.primitive_cube_add"]
    assert space.encode(NO_EDIT) == [NO_EDIT_TOKEN] and space.decode([NO_EDIT_TOKEN]) == NO_EDIT
    orbit = space.decode(space.encode(Action(kind="view3d.view_orbit", args={"angle": 0.26}, edit=False)))
    assert not orbit.edit


@pytest.mark.parametrize(
    "kind, args, message",
    [
        ("mesh.no_such_tool", {}, "has no operator 'mesh.no_such_tool'"),
        ("mesh.primitive_cube_add", {"sise": 1.0}, "has no property 'sise'"),
        ("mesh.extrude_region_move", {"TRANSFORM_OT_translate": 5}, "'TRANSFORM_OT_translate' must be an object of the macro's properties, got int"),
        ("mesh.primitive_cube_add", {"size": "big"}, "'size' must be a finite number, got 'big'"),
        ("mesh.primitive_circle_add", {"vertices": 10**400}, "'vertices' must be a finite number, got 1000"),
        ("object.modifier_add", {"type": "X" * 5000}, "has no item 'XXX+…$"),
        ("mesh.primitive_cube_add", {"size": -1.0}, "outside"),
        ("mesh.primitive_cube_add", {"location": [1.0, 2.0]}, "takes 3 values"),
        ("object.modifier_add", {"type": "NOT_A_MODIFIER"}, "has no item"),
        ("mesh.subdivide", {"number_cuts": 1.5}, "is an integer"),
        ("object.shade_smooth", {"keep_sharp_edges": 1}, "is a boolean"),
    ],
)
def test_ill_typed_or_unknown_calls_are_refused(space, kind, args, message):
    with pytest.raises(InvalidAction, match=message):
        space.encode(Action(kind=kind, args=args))


def test_the_grammar_only_writes_real_operators_with_well_typed_properties(space):
    registry = space.registry
    first = space.allowed_next([])
    assert NO_EDIT_TOKEN in first and len(first) == len(registry.operators) + 1
    after_cube = space.allowed_next(["@mesh.primitive_cube_add"])
    assert after_cube[0] == EOS and "p:size" in after_cube and "p:TRANSFORM_OT_translate.value" not in after_cube
    sizes = space.allowed_next(["@mesh.primitive_cube_add", "p:size"])
    assert "f:0.5" in sizes and "f:-0.5" not in sizes  # size has a hard minimum of 0
    assert space.allowed_next(["@mesh.primitive_cube_add", "p:location", "f:0"]) == space.allowed_values(
        registry.get("mesh.primitive_cube_add").property("location")
    )
    # each property at most once, in registry order
    assert "p:size" not in space.allowed_next(["@mesh.primitive_cube_add", "p:size", "f:1", "p:location", "f:0", "f:0", "f:0"])
    assert space.allowed_next(["@mesh.primitive_cube_add", "p:bogus"]) == []
    # Random walks through the grammar always decode to actions the space accepts.
    rng = random.Random(0)
    operators = [token for token in first if token != NO_EDIT_TOKEN]
    for _ in range(400):
        prefix = [rng.choice(operators)]
        while True:
            allowed = list(space.allowed_next(prefix))
            assert allowed, prefix
            token = EOS if EOS in allowed and rng.random() < 0.3 else rng.choice(allowed)
            if token == EOS:
                break
            prefix.append(token)
        action = space.decode(prefix)
        assert space.decode(space.encode(action)) == action
        json.dumps(action.to_json())


def test_prefixes_with_one_grammar_key_allow_the_same_tokens(space):
    """Decoding caches masks by ``grammar_key``: equal keys must mean equal allowed sets."""
    rng = random.Random(1)
    operators = [token for token in space.allowed_next([]) if token != NO_EDIT_TOKEN]
    allowed_by_key: dict = {}
    prefixes = 0
    for _ in range(300):
        prefix = [rng.choice(operators)]
        while True:
            allowed = list(space.allowed_next(prefix))
            key = space.grammar_key(prefix)
            prefixes += 1
            assert key != ("dead",)
            assert allowed_by_key.setdefault(key, set(allowed)) == set(allowed), prefix
            token = EOS if EOS in allowed and rng.random() < 0.3 else rng.choice(allowed)
            if token == EOS:
                break
            prefix.append(token)
    assert len(allowed_by_key) < prefixes  # prefixes that differ only in values share a key
    for dead in (["@mesh.primitive_cube_add", "p:bogus"], ["@mesh.primitive_cube_add", "p:size", "e:NORMAL"], ["@no.such_op"]):
        assert space.allowed_next(dead) == [] and space.grammar_key(dead) == ("dead",)
    assert space.grammar_key(["@mesh.primitive_cube_add", "p:size", "f:1"]) == space.grammar_key(["@mesh.primitive_cube_add", "p:size", "f:2"])


def test_views_and_selections_are_never_suggested(space):
    excluded = space.non_edit_start_tokens()
    assert {"@view3d.view_orbit", "@mesh.select_all", "@object.select_all"} <= excluded
    assert "@mesh.extrude_region_move" not in excluded and "@view3d.snap_cursor_to_selected" not in excluded
    assert "@object.mode_set" not in excluded and "@ed.undo" in excluded


def test_labels_show_the_operator_name_and_its_settings(space):
    label = space.describe(Action(kind="mesh.bevel", args={"offset": 0.05, "segments": 3}))
    assert label == "Bevel (offset 0.05; segments 3)"
    assert space.describe(Action(kind="transform.rotate", args={"value": math.radians(90), "orient_axis": "X"})) == (
        "Rotate (value 90°; orient_axis X)"
    )
    assert space.describe(NO_EDIT) == "no edit"


def test_the_encoder_ends_with_the_current_mode_active_type_and_selection():
    from nep_core.plugins import get_domain

    domain = get_domain("blender")
    history = [
        Event(t=0.0, action=Action(kind="mesh.primitive_cube_add", context={"mode": "OBJECT", "active": "NONE", "selected": 0})),
        Event(t=3.0, action=Action(kind="object.mode_set", args={"mode": "EDIT"}, context={"mode": "OBJECT", "active": "MESH", "selected": 7})),
    ]
    tokens = domain.encoder.encode(Context(history=history))
    assert tokens == ["@mesh.primitive_cube_add", "dt>2", "@object.mode_set", "p:mode", "e:EDIT", "m:OBJECT", "a:MESH", "s:4+"]
    with_state = domain.encoder.encode(Context(history=history, state={"mode": "EDIT_MESH", "active": "MESH", "selected": 1}))
    assert with_state[-3:] == ["m:EDIT_MESH", "a:MESH", "s:1"]
    vocabulary = set(domain.build_tokenizer().get_vocab())
    assert set(tokens) <= vocabulary


def test_the_time_key_is_all_the_encoder_reads_of_times():
    from inference_helpers import check_time_key
    from nep_core.plugins import get_domain

    domain = get_domain("blender")
    calls = [
        Action(kind="mesh.primitive_cube_add", context={"mode": "OBJECT", "active": "NONE", "selected": 0}),
        Action(kind="object.mode_set", args={"mode": "EDIT"}, context={"mode": "OBJECT", "active": "MESH", "selected": 1}),
        Action(kind="view3d.view_orbit", edit=False, context={"mode": "EDIT_MESH", "active": "MESH", "selected": 1}),
        Action(kind="mesh.subdivide", args={"number_cuts": 2}, context={"mode": "EDIT_MESH", "active": "MESH", "selected": 1}),
    ]
    contexts = [Context(history=[Event(t=float(index), action=call) for index, call in enumerate(calls[:length])]) for length in (2, 3, 4)]
    unchanged, changed = check_time_key(domain.encoder, contexts, variants=30)
    assert unchanged > 5 and changed > 10
