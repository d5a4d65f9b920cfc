"""The krita action space: strokes and discrete actions to tokens and back, the grammar, round-trip error."""

from __future__ import annotations

import contextlib
import importlib
import math
import re
import random
import shutil
import statistics
import sys
from pathlib import Path

import pytest

from nep_core.action_space import EOS, NO_EDIT_TOKEN
from nep_core.actions import NO_EDIT, Action
from nep_core.collector import CollectReport
from nep_core.errors import InvalidAction
from nep_core.session import Context, Event
from nep_krita.action_space import MAX_STROKE_TOKENS, KritaActionSpace, current_settings
from nep_krita.raster import chamfer_distance, resample
from nep_krita.strokes import Stroke


def stroke_action(points, **brush) -> Action:
    args = {"points": [list(point) for point in points], "brush": "b) Basic-5 Size", "color": "#1a2b3c", "size": 12.0, "opacity": 1.0}
    args.update(brush)
    return Action(kind="stroke", args=args)


def random_stroke(rng: random.Random, width: float = 1024, height: float = 768) -> Action:
    x, y = rng.uniform(0, width), rng.uniform(0, height)
    heading, points = rng.uniform(0, 2 * math.pi), []
    for index in range(rng.randint(2, 40)):
        points.append((x, y, rng.uniform(0.2, 1.0), index * 10.0))
        heading += rng.gauss(0, 0.4)
        step = rng.uniform(1, 30)
        x = min(max(x + step * math.cos(heading), 0), width)
        y = min(max(y + step * math.sin(heading), 0), height)
    return stroke_action(points)


def max_deviation(original: Stroke, quantized: Stroke) -> float:
    """The largest distance from an original point to the quantized polyline (pixels)."""
    samples = resample(quantized.xy, 0.25)
    return max(min(math.dist(point, sample) for sample in samples) for point in original.xy)


def canvas_context(width: int, height: int) -> Context:
    return Context(history=[Event(t=0.0, state={"canvas": {"width": width, "height": height}, "brush": "c) Pencil-2", "color": "#ff0000"})])


def test_stroke_round_trip_error_is_small_on_random_and_synthetic_strokes():
    from nep_krita.collectors.synthetic import SyntheticDrawingCollector

    space = KritaActionSpace()
    rng = random.Random(5)
    synthetic = [action for session in SyntheticDrawingCollector(space).collect("8", CollectReport())
                 for action in session.actions() if action.kind == "stroke"]
    for name, actions in (("random", [random_stroke(rng) for _ in range(150)]), ("synthetic", synthetic[:150])):
        chamfers, deviations, fine = [], [], []
        for action in actions:
            tokens = space.encode(action)
            decoded = space.decode(tokens)
            original, quantized = Stroke.from_action(action), Stroke.from_action(decoded)
            chamfers.append(chamfer_distance(original, quantized))
            deviations.append(max_deviation(original, quantized))
            if len(tokens) < 50:  # written at full precision, not simplified harder to fit
                fine.append(deviations[-1])
        # measured: mean Chamfer ~0.75 px on both; max deviation < 3 px unless simplified to fit
        assert statistics.mean(chamfers) < 1.2, name
        assert max(chamfers) < 4.0, name
        assert max(fine) < 3.5, name
        assert statistics.mean(deviations) < 2.0, name


def test_decoded_stroke_encodes_to_the_same_tokens_and_validate_is_idempotent():
    space = KritaActionSpace()
    rng = random.Random(1)
    for _ in range(50):
        action = random_stroke(rng)
        tokens = space.encode(action)
        assert space.encode(space.decode(tokens)) == tokens
        once = space.validate(action)
        assert space.validate(once) == once
        assert once.args["color"] == "#1a2b3c" and once.args["brush"] == "b) Basic-5 Size"


def test_stroke_tokens_start_cell_pressure_and_moves():
    space = KritaActionSpace()
    action = stroke_action([(100, 50, 1.0, 0), (103, 50, 1.0, 8), (103, 58, 0.0, 16)])
    tokens = space.encode(action)
    assert tokens == ["@stroke", "sx=3", "sy=1", "ox=1", "oy=4", "p=7", "dx=3", "dy=2", "p=0", "dx=0", "dy=8"]
    decoded = space.decode(tokens)
    assert [point[:3] for point in decoded.args["points"]] == [[100.0, 48.0, 1.0], [103.0, 50.0, 1.0], [103.0, 58.0, 0.0]]
    assert space.location(action) == (3, 1)


def test_long_moves_are_split_and_stay_exact_at_the_end():
    space = KritaActionSpace()
    action = stroke_action([(0, 0, 1, 0), (500, 300, 1, 100)])
    decoded = Stroke.from_action(space.decode(space.encode(action)))
    end = decoded.points[-1]
    assert abs(end[0] - 500) <= 1.0 and abs(end[1] - 300) <= 1.0
    assert len(decoded.points) >= 9  # 500 px at most 64 px a move


def test_long_wiggly_strokes_are_simplified_until_they_fit():
    space = KritaActionSpace()
    points = [(50 + 2.0 * index, 300 + 40 * math.sin(index / 20.0), 0.3 + 0.7 * (index % 7) / 6, index * 8.0) for index in range(400)]
    action = stroke_action(points)
    tokens = space.encode(action)
    assert len(tokens) <= MAX_STROKE_TOKENS
    assert _grammar_accepts(space, tokens)
    decoded = Stroke.from_action(space.decode(tokens))
    assert chamfer_distance(Stroke.from_action(action), decoded) < 4.0  # coarser, still the same curve
    zigzag = [(50 + 2.0 * index, 300 + 40 * math.sin(index / 3.0), 1.0, index * 8.0) for index in range(400)]
    with pytest.raises(InvalidAction, match="at most 63"):
        space.encode(stroke_action(zigzag))


def test_bad_strokes_raise_invalid_action_naming_the_field():
    space = KritaActionSpace()
    cases = {
        "single point": (stroke_action([(1, 1, 1, 0)]), "points"),
        "nan pressure": (stroke_action([(1, 1, float("nan"), 0), (5, 5, 1, 1)]), "points[0]"),
        "zero length": (stroke_action([(10, 10, 1, 0), (10.2, 10.1, 1, 8)]), "one spot"),
        "bad colour": (stroke_action([(1, 1, 1, 0), (9, 9, 1, 8)], color="red"), "color"),
    }
    for name, (action, field) in cases.items():
        with pytest.raises(InvalidAction, match=re.escape(field)):
            space.encode(action)


def test_discrete_actions_round_trip():
    space = KritaActionSpace()
    actions = [
        Action("layer.new"), Action("undo"), Action("layer.switch", args={"index": 2}),
        Action("brush", args={"brush": "c) Pencil-2"}), Action("color", args={"color": "#ff0000"}),
        Action("size", args={"size": 12.0}), Action("opacity", args={"opacity": 0.5}), Action("eraser", args={"on": True}),
    ]
    for action in actions:
        tokens = space.encode(action)
        assert space.decode(tokens) == action, tokens
        assert all(" " not in token for token in tokens)
        assert _grammar_accepts(space, tokens)
    assert space.validate(Action("size", args={"size": 13.0})).args == {"size": 12.0}
    assert space.validate(Action("color", args={"color": "#fe0102"})).args == {"color": "#ff0000"}
    with pytest.raises(InvalidAction, match="index"):
        space.encode(Action("layer.switch", args={"index": 99}))
    with pytest.raises(InvalidAction, match="unknown"):
        space.encode(Action("smudge"))
    assert space.encode(NO_EDIT) == [NO_EDIT_TOKEN] and space.decode([NO_EDIT_TOKEN]) == NO_EDIT


def _grammar_accepts(space, tokens) -> bool:
    return all(token in space.allowed_next(tokens[:index]) for index, token in enumerate(tokens)) and EOS in space.allowed_next(tokens)


def test_grammar_accepts_encoded_strokes_and_only_whole_strokes_end():
    space = KritaActionSpace().for_context(canvas_context(1024, 768))
    rng = random.Random(3)
    for _ in range(30):
        tokens = space.encode(random_stroke(rng))
        assert _grammar_accepts(space, tokens)
        for cut in range(1, 7):
            assert EOS not in space.allowed_next(tokens[:cut])


def test_random_walks_through_the_grammar_decode_to_valid_on_canvas_strokes():
    width, height = 200, 120
    space = KritaActionSpace().for_context(canvas_context(width, height))
    rng = random.Random(11)
    for _ in range(60):
        prefix = ["@stroke"]
        while True:
            allowed = list(space.allowed_next(prefix))
            assert allowed, prefix
            # prefer moves toward an edge, so the canvas bound is exercised
            choice = EOS if EOS in allowed and rng.random() < 0.05 else rng.choice([token for token in allowed if token != EOS] or [EOS])
            if choice == EOS:
                break
            prefix.append(choice)
        stroke = Stroke.from_action(space.decode(prefix))
        assert stroke.on_canvas(width, height)
        assert len(set(stroke.xy)) >= 2 and stroke.length() > 0
        assert len(prefix) <= MAX_STROKE_TOKENS
        assert stroke.brush == "c) Pencil-2" and stroke.color == "#ff0000"  # painted with the current brush


def test_a_stroke_is_complete_exactly_when_the_grammar_lists_each_token_and_then_eos():
    """``decode`` checks a stroke by parsing it; the answer is the grammar's, token by token."""
    width, height = 200, 120
    space = KritaActionSpace().for_context(canvas_context(width, height))
    rng = random.Random(5)
    vocabulary = [token for token in space.vocabulary() if token.startswith(("dx=", "dy=", "p=", "sx=", "sy=", "ox=", "oy="))]
    outcomes = set()
    for _ in range(300):
        tokens = space.encode(random_stroke(rng, width, height)) if rng.random() < 0.5 else ["@stroke"]
        while len(tokens) < 6 or rng.random() < 0.9:
            allowed = [token for token in space.allowed_next(tokens) if token != EOS]
            if not allowed or len(tokens) >= MAX_STROKE_TOKENS + 2:
                break
            tokens = [*tokens, rng.choice(allowed)]
        if rng.random() < 0.5:  # a wrong token somewhere, often off the canvas or out of turn
            tokens[rng.randrange(1, len(tokens))] = rng.choice(vocabulary)
        if rng.random() < 0.2:
            tokens = tokens[: rng.randrange(1, len(tokens))]
        expected = _grammar_accepts(space, tokens)
        assert space._complete(tokens) == expected, tokens
        outcomes.add(expected)
    assert outcomes == {True, False}


def test_bound_space_bounds_start_cells_and_shares_grammar_keys():
    space = KritaActionSpace()
    small = space.for_context(canvas_context(256, 256))
    assert small.allowed_next(["@stroke"]) == [f"sx={index}" for index in range(9)]
    assert small.allowed_next(["@stroke", "sx=8", "sy=0"]) == ["ox=0"]
    # away from the edges, beams that differ only in earlier moves share one cached mask
    first = ["@stroke", "sx=4", "sy=4", "ox=0", "oy=0", "p=7", "dx=2", "dy=2"]
    second = ["@stroke", "sx=4", "sy=4", "ox=0", "oy=0", "p=7", "dx=-2", "dy=4"]
    assert small.grammar_key(first) == small.grammar_key(second)
    assert small.grammar_key(["@stroke", "sx=0"]) != space.grammar_key(["@stroke", "sx=0"])


def test_undo_is_offered_only_while_a_stroke_or_new_layer_is_left_to_take_back():
    """Undo was offered after any edit, a colour change or a stroke already undone included, though Krita's
    undo takes back strokes and new layers only; undoing a new layer left it switchable."""
    space = KritaActionSpace()
    base = canvas_context(256, 256).history
    line = Action("stroke", args={"points": [[10, 10, 1, 0], [40, 40, 1, 10]]})

    def bound(*actions):
        return space.for_context(Context(history=[*base, *(Event(float(i + 1), action=a) for i, a in enumerate(actions))]))

    assert "@undo" not in bound(Action("color", args={"color": "#ff0000"})).allowed_next([])
    assert "@undo" not in bound(line, Action("undo")).allowed_next([])
    assert "@undo" in bound(line, Action("color", args={"color": "#ff0000"})).allowed_next([])
    assert "@undo" in bound(line, line, Action("undo")).allowed_next([])
    undone_layer = bound(Action("layer.new"), Action("undo"))
    assert undone_layer.allowed_next(["@layer.switch"]) == ["layer=0"] and "@undo" not in undone_layer.allowed_next([])
    settings = current_settings(Context(history=[*base, Event(1.0, action=line), Event(2.0, action=Action("layer.new")),
                                                  Event(3.0, action=Action("undo"))]))
    assert (settings["layer"], settings["layers"]) == (0, 1) and [step.action for step in settings["undo_steps"]] == [line]


def test_bound_space_offers_only_layers_that_exist_the_other_eraser_state_and_undo_after_an_edit():
    space = KritaActionSpace()
    fresh = space.for_context(canvas_context(256, 256))
    assert fresh.allowed_next(["@layer.switch"]) == ["layer=0"]
    assert "@undo" not in fresh.allowed_next([]) and "@undo" in space.allowed_next([])
    history = [*canvas_context(256, 256).history, Event(1.0, action=Action("layer.new")), Event(2.0, action=Action("eraser", args={"on": True}))]
    later = space.for_context(Context(history=history))
    assert later.allowed_next(["@layer.switch"]) == ["layer=0", "layer=1"]
    assert later.allowed_next(["@eraser"]) == ["on=0"]
    assert "@undo" in later.allowed_next([])
    assert later.grammar_key(["@eraser"]) != fresh.grammar_key(["@eraser"])
    assert later.grammar_key([]) != fresh.grammar_key([])


def test_a_moved_copy_of_a_recent_stroke_is_written_as_a_copy_in_context():
    space = KritaActionSpace()
    wave = [(100 + 4 * index, 200 + 10 * math.sin(index / 2), 0.8, index * 8.0) for index in range(20)]
    history = [*canvas_context(512, 384).history, Event(1.0, action=stroke_action(wave))]
    bound = space.for_context(Context(history=history))
    shifted = stroke_action([(x + 12, y + 30, p, t) for x, y, p, t in wave])
    tokens = bound.encode(shifted)
    assert tokens == ["@stroke", "copy=1", "jx=12", "jy=30"]
    assert _grammar_accepts(bound, tokens)
    copied = Stroke.from_action(bound.decode(tokens))
    assert chamfer_distance(copied, Stroke.from_action(shifted)) < 1.5
    assert copied.brush == "b) Basic-5 Size"  # painted with the current brush: the newest stroke's
    assert space.encode(shifted)[1].startswith("sx=")  # without a context: written in full
    # a different shape is written in full even in context; jumps that leave the canvas are not offered
    assert bound.encode(stroke_action([(10, 10, 1, 0), (60, 90, 1, 8)]))[1].startswith("sx=")
    jumps = bound.allowed_next(["@stroke", "copy=1"])
    assert "jx=256" in jumps and "jx=512" not in jumps and "jx=-128" not in jumps
    assert bound.allowed_next(["@stroke", "copy=2"]) == []  # only one stroke to copy
    assert "copy=1" in bound.allowed_next(["@stroke"]) and "copy=1" not in space.allowed_next(["@stroke"])


def test_the_mirror_image_of_a_recent_stroke_is_written_as_a_flip():
    space = KritaActionSpace()
    wing = [(200 - 5 * index, 152 + index * index / 2, 0.8, index * 8.0) for index in range(16)]  # drawn leftwards from x=200
    straight = [(40, 252, 0.8, 0.0), (40, 352, 0.8, 8.0)]
    history = [*canvas_context(512, 384).history, Event(1.0, action=stroke_action(wing)), Event(2.0, action=stroke_action(straight))]
    bound = space.for_context(Context(history=history))
    axis = 230  # the other wing: reflected about x=230, so it starts at x=260 and is drawn rightwards
    other = stroke_action([(2 * axis - x, y, p, t) for x, y, p, t in wing])
    tokens = bound.encode(other)
    assert tokens == ["@stroke", "flip=2", "jx=60", "jy=0"]  # the stroke before the newest, mirrored, moved 60 px right
    assert _grammar_accepts(bound, tokens)
    flipped = Stroke.from_action(bound.decode(tokens))
    assert chamfer_distance(flipped, Stroke.from_action(other)) < 1.5
    assert flipped.points[0][0] == 260 and flipped.points[-1][0] > flipped.points[0][0]
    # a vertical line is its own mirror image: written as a copy
    assert bound.encode(stroke_action([(x + 40, y, p, t) for x, y, p, t in straight]))[1:] == ["copy=1", "jx=40", "jy=0"]
    # jumps keep what is moved on the canvas: the wing's mirror image reaches 75 px right of its start
    flip_jumps, copy_jumps = bound.allowed_next(["@stroke", "flip=2"]), bound.allowed_next(["@stroke", "copy=2"])
    assert "jx=224" in flip_jumps and "jx=240" not in flip_jumps and "jx=-192" in flip_jumps
    assert "jx=240" in copy_jumps and "jx=-192" not in copy_jumps  # the wing itself reaches 75 px left
    assert "flip=2" in bound.allowed_next(["@stroke"]) and "flip=3" not in bound.allowed_next(["@stroke"])
    with pytest.raises(InvalidAction):
        bound.decode(["@stroke", "flip=2", "jx=240", "jy=0"])  # the mirror image would leave the canvas


def test_a_suggestion_decoded_as_a_copy_is_checked_without_measuring_distances(monkeypatch):
    """The server checks each suggestion in the bound space; measuring every recent stroke and its
    mirror image by Chamfer distance made that 10 ms a request, for copies the model wrote itself."""
    import nep_krita.raster

    space = KritaActionSpace()
    wave = [(100 + 4 * index, 200 + 10 * math.sin(index / 2), 0.8, index * 8.0) for index in range(20)]
    line = [(40, 252, 0.8, 0.0), (40, 352, 0.8, 8.0)]
    history = [*canvas_context(512, 384).history, Event(1.0, action=stroke_action(wave)), Event(2.0, action=stroke_action(line))]
    bound = space.for_context(Context(history=history))
    for tokens in (["@stroke", "copy=2", "jx=12", "jy=30"], ["@stroke", "flip=2", "jx=96", "jy=8"], ["@stroke", "copy=1", "jx=40", "jy=0"]):
        suggestion = bound.decode(tokens)
        with monkeypatch.context() as patch:
            patch.setattr(nep_krita.raster, "chamfer_distance", lambda *args: pytest.fail("measured a copy"))
            assert bound.encode(suggestion) == tokens and bound.validate(suggestion) == suggestion
    retraced = [(40, 252, 0.8, 0.0), (40, 352, 0.8, 8.0), (40, 300, 0.8, 16.0)]  # the line, drawn again part way back
    again = space.for_context(Context(history=[*history, Event(3.0, action=stroke_action(retraced))]))
    line_copy = again.decode(["@stroke", "copy=2", "jx=0", "jy=0"])  # the line itself: at distance 0 from the newer stroke too
    assert again.encode(line_copy) == ["@stroke", "copy=1", "jx=0", "jy=0"]  # of equals, the newest source, as before
    near = stroke_action([(x + 12.4, y + 29.7, p, t) for x, y, p, t in wave])  # not exactly a copy: still measured
    assert bound.encode(near) == ["@stroke", "copy=2", "jx=12", "jy=30"]


def test_current_settings_follow_state_and_actions():
    history = [
        Event(0.0, state={"canvas": {"width": 800, "height": 600}, "brush": "c) Pencil-2", "color": "#112233", "size": 4}),
        Event(1.0, action=Action("color", args={"color": "#ff0000"})),
        Event(2.0, action=Action("layer.new")),
        Event(3.0, action=Action("eraser", args={"on": True})),
    ]
    settings = current_settings(Context(history=history))
    assert settings["canvas"] == (800.0, 600.0)
    assert (settings["brush"], settings["color"], settings["size"]) == ("c) Pencil-2", "#ff0000", 4)
    assert settings["layer"] == 1 and settings["layers"] == 2 and settings["eraser"] is True


def test_brushes_from_the_tokenizer_join_the_grammar():
    from nep_core.tokenizer import build_wordlevel_tokenizer
    from nep_krita.action_space import brush_token

    space = KritaActionSpace()
    custom = brush_token("My Custom Brush")
    assert custom not in space.allowed_next(["@brush"])
    space.bind_tokenizer(build_wordlevel_tokenizer([*space.vocabulary(), custom]))
    assert custom in space.allowed_next(["@brush"])
    assert space.decode(["@brush", custom]).args == {"brush": "My Custom Brush"}





def test_a_server_refuses_actions_of_kinds_krita_does_not_have() -> None:
    from nep_core.server.errors import ApiError
    from nep_core.server.events import parse_history

    space = KritaActionSpace()
    with pytest.raises(InvalidAction, match="unknown krita action kind 'forward'"):
        space.check_kind("forward")
    good = {"t": 0.0, "action": {"kind": "undo"}}
    with pytest.raises(ApiError) as refused:
        parse_history([good, {"t": 1.0, "action": {"kind": "forward", "args": {"distance": 10}}}], space, max_events=10, max_depth=16)
    assert refused.value.status == 422 and refused.value.loc == "history[1].action.kind"
    assert [event.action.kind for event in parse_history([good], space, max_events=10, max_depth=16)] == ["undo"]


def test_a_start_far_off_the_canvas_is_pulled_onto_its_edge_at_once() -> None:
    """The start was pulled in 4 pixels a loop: a coordinate of 1e12 took hours, one of 1e308 forever."""
    from nep_krita.action_space import quantize_points, snap_start

    assert [snap_start(value, 100) for value in (-5, 0, 98, 99, 101, 1e12, 1e308)] == [0, 0, 96, 100, 100, 100, 100]
    assert snap_start(1e308, 102) == 100  # the last 4-pixel grid line on the canvas
    start, moves = quantize_points([(1e308, 50, 1, 0), (50, 50, 1, 10)], 100, 100)
    assert start == (100, 48) and sum(dx for dx, _, _ in moves) == -50
    context = canvas_context(100, 100)
    far = KritaActionSpace().for_context(context).validate(stroke_action([(1e12, 50, 0.5, 0), (50, 50, 0.5, 10)]))
    assert Stroke.from_action(far).points[0][:2] == (100.0, 48.0)


@pytest.mark.parametrize("points", [5, True, [5, 6], [["a", "b"], [1, 2]], [[1, 2]], None])
def test_a_malformed_stroke_is_described_as_a_stroke_and_never_raises(points, tmp_path) -> None:
    """A server describes a repeat-last suggestion made from the request's own (unchecked) history."""
    action = Action("stroke", args={"points": points})
    assert KritaActionSpace().describe(action) == "stroke"
    with plugin_checks(tmp_path) as checks:
        expected = f"stroke ({len(points)} points)" if isinstance(points, list) else "stroke"
        assert checks.label({"kind": "stroke", "args": {"points": points}}) == expected
        assert checks.check_action({"kind": "stroke", "args": {"points": points}}, (100, 100))[0] is None


@contextlib.contextmanager
def plugin_checks(tmp_path):
    """The plugin's ``checks`` module, laid out as its zip lays it out (it imports ``strokes`` beside it)."""
    from nep_krita import strokes

    package = tmp_path / "nep_suggest"
    package.mkdir()
    (package / "__init__.py").write_text("")
    shutil.copy(strokes.__file__, package / "strokes.py")
    shutil.copy(Path(strokes.__file__).parent / "pykrita" / "nep_suggest" / "checks.py", package / "checks.py")
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("nep_suggest.checks")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == "nep_suggest" or name.startswith("nep_suggest.")]:
            del sys.modules[name]


def test_a_hostile_servers_huge_stroke_or_name_is_refused_before_it_is_drawn(tmp_path):
    """Found by a review: 450,000 points fit in an answer, and the ghost draws each segment on every repaint."""
    with plugin_checks(tmp_path) as checks:
        zigzag = [[0, 0], [90, 90]] * 5000
        stroke, reason = checks.check_action({"kind": "stroke", "args": {"points": zigzag}}, (100, 100))
        assert stroke is None and reason == f"stroke: 10000 points, more than a suggestion has ({checks.MAX_POINTS})"
        assert checks.check_action({"kind": "stroke", "args": {"points": zigzag[:60]}}, (100, 100))[0] is not None
        assert checks.check_action({"kind": "layer.new", "args": {"name": "x" * 3_000_000}}, (100, 100)) == (
            None, "layer.new: args.name must be a string of at most 200 characters")
        assert checks.check_action({"kind": "layer.new", "args": {"name": "Shadows"}}, (100, 100)) == (None, "")
        assert len(checks.label({"kind": "brush", "args": {"brush": "b" * 10_000}})) < 300


def test_a_stroke_beyond_the_grids_reach_on_a_larger_canvas_is_refused_not_pulled_onto_its_last_line(tmp_path) -> None:
    """A painter's review (2026-12-08): on a 9000 x 600 canvas, three strokes at x 8500..8900 came back from a repeat-last
    server as a stroke on the x = 8192 line (MAX_CANVAS), which the docker showed and Accept painted."""
    from nep_core.inference.baselines import RepeatLast
    from nep_core.server.suggest import checked_prediction
    from nep_krita.action_space import MAX_CANVAS
    from nep_krita.domain import build_domain
    from nep_krita.encoder import KritaEncoder

    assert MAX_CANVAS == 8192
    beyond = [stroke_action([(8500, 20 + 30 * index, 1.0, 0), (8900, 200 + 30 * index, 1.0, 40)]) for index in range(3)]
    history = [Event(t=0.0, state={"canvas": {"width": 9000, "height": 600}})]
    history += [Event(t=1.0 + index, action=action) for index, action in enumerate(beyond)]
    context = Context(history=history)
    space = KritaActionSpace()
    bound = space.for_context(context)
    for written in (space, bound):  # without a canvas too: past the grid is past it
        with pytest.raises(InvalidAction, match=r"the point \(8500, 20\) lies beyond the 8192 pixels a side"):
            written.validate(beyond[0])
    with pytest.raises(InvalidAction, match=r"\(the canvas is 9000x600\)"):
        bound.encode(stroke_action([(8000, 80, 1.0, 0), (8192.5, 80, 1.0, 8)]))  # half a pixel past the last line
    within = bound.validate(stroke_action([(8000, 80, 1.0, 0), (8190, 80, 1.0, 8)]))  # on the same canvas, within the grid
    assert Stroke.from_action(within).points[-1][:2] == (8190.0, 80.0)
    # off a smaller canvas a point is still pulled onto its edge, as the plugin records a stroke that leaves it
    small = KritaActionSpace().for_context(canvas_context(1000, 800)).validate(stroke_action([(900, 80, 1.0, 0), (9000, 80, 1.0, 8)]))
    assert Stroke.from_action(small).points[-1][:2] == (1000.0, 80.0)
    # the server's check drops what repeat-last repeats (1 dropped by the server), where it served the 8192 line
    domain = build_domain()
    repeat = RepeatLast(domain)
    repeat.no_edit_rate, repeat.fitted = 0.1, True
    prediction, dropped = checked_prediction(domain, context, repeat.predict(context, 1), 1)
    assert dropped == 1 and prediction.suggestions == []
    # in the prompt such strokes are <unk>, and the pen's cell is left out: never as if painted on the 8192 line
    tokens = KritaEncoder(space).encode(context)
    assert tokens.count("<unk>") == 3 and "pen" not in tokens and "sx=256" not in tokens
    with plugin_checks(tmp_path) as checks:  # and the Krita plugin's Accept refuses what the server would drop
        assert checks.MAX_CANVAS == MAX_CANVAS
        assert checks.check_action({"kind": "stroke", "args": beyond[0].args}, (9000, 600)) == (
            None, "stroke: a point lies beyond the 8192 pixels a side NEP writes (the canvas is 9000x600)")
        assert checks.check_action({"kind": "stroke", "args": within.args}, (9000, 600))[1] == ""


def test_every_default_brush_is_one_krita_has_and_the_synthetic_painter_uses_only_them() -> None:
    """Six default brushes were names no Krita from 5.1.5 to 6.0.4 has (the plugin showed them, Accept refused them); the
    presets of the running Krita are checked in real Krita (tests/krita/test_krita_plugin.py)."""
    from nep_krita.action_space import DEFAULT_BRUSHES
    from nep_krita.collectors.drawings import painter

    assert KritaActionSpace.version == "4"
    for wrong in ("i) Textured Charcoal", "j) Blender Basic", "m) Pixel Art", "r) Fill Circle", "d) Ink-5 Fineliner Rough", "e) Marker Chisel"):
        assert wrong not in DEFAULT_BRUSHES
    for right in ("k) Blender Basic", "u) Pixel Art", "e) Marker Chisel Smooth"):
        assert right in DEFAULT_BRUSHES
    brushes = {value.preset for value in vars(painter).values() if isinstance(value, painter.Brush)}
    assert brushes and brushes <= set(DEFAULT_BRUSHES), brushes - set(DEFAULT_BRUSHES)
