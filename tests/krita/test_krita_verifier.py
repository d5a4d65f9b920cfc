"""The canvas verifier and the raster measures it uses (Pillow rasterizing, Chamfer distance, IoU)."""

from __future__ import annotations

import math

import pytest
import torch

from nep_core.actions import Action
from nep_core.rl.reward_weights import RewardWeights
from nep_core.rl.rewards import VerifierRewards
from nep_core.session import Context, Event
from nep_krita.action_space import KritaActionSpace
from nep_krita.domain import build_domain
from nep_krita.raster import chamfer_distance, raster_iou, rasterize
from nep_krita.strokes import Stroke
from nep_krita.verifier import CanvasVerifier, stroke_reward

PENCIL = {"brush": "c) Pencil-2", "color": "#202020", "size": 4.0, "opacity": 1.0}


def stroke(points, **overrides) -> Action:
    return Action("stroke", args={"points": [list(point) for point in points], **{**PENCIL, **overrides}})


def canvas(width=400, height=300, *events) -> Context:
    return Context(history=[Event(0.0, state={"canvas": {"width": width, "height": height}, **PENCIL}), *events])


@pytest.fixture
def verifier():
    return CanvasVerifier(KritaActionSpace())


def test_rasterize_paints_the_stroke_with_its_brush_size():
    image = rasterize([Stroke.from_action(stroke([(10, 50, 1, 0), (90, 50, 1, 10)], size=6.0))], 100, 100)
    assert image.getpixel((50, 50)) == 255 and image.getpixel((50, 52)) == 255
    assert image.getpixel((50, 60)) == 0 and image.getpixel((5, 5)) == 0


def test_chamfer_and_iou_on_known_shapes():
    line = Stroke.from_action(stroke([(0, 0, 1, 0), (100, 0, 1, 10)]))
    shifted = Stroke.from_action(stroke([(0, 10, 1, 0), (100, 10, 1, 10)]))
    assert chamfer_distance(line, line) == 0.0
    assert chamfer_distance(line, shifted) == pytest.approx(10.0, abs=0.01)
    assert raster_iou(line, line, 200, 200) == 1.0
    assert raster_iou(line, shifted, 200, 200) == 0.0
    half = Stroke.from_action(stroke([(0, 0, 1, 0), (50, 0, 1, 10)]))
    assert 0.4 < raster_iou(line, half, 200, 200) < 0.6


def test_same_stroke_scores_one_a_nearby_stroke_less_a_far_one_least(verifier):
    actual = stroke([(50, 50, 1, 0), (150, 120, 1, 100)])
    near = stroke([(54, 52, 1, 0), (152, 124, 1, 100)])
    far = stroke([(300, 250, 1, 0), (390, 200, 1, 100)])
    same = verifier.verify(canvas(), actual, actual)
    close = verifier.verify(canvas(), near, actual)
    away = verifier.verify(canvas(), far, actual)
    assert same.valid and same.reward == pytest.approx(1.0) and same.details["chamfer_px"] == 0.0
    assert close.valid and 0.3 < close.reward < same.reward
    assert away.valid and away.reward < 0.1 < close.reward and away.details["iou"] == 0.0 and away.details["chamfer_px"] > 100
    # 16 px off on a 400 x 300 canvas (diagonal 500, far scale 125 px), by hand from the formula
    assert stroke_reward(16.0, 0.0, 500.0) == pytest.approx(0.25 * math.exp(-1) + 0.25 * math.exp(-16 / 125))


def doodle_line(offset: float = 0.0) -> Action:
    """A line on a 1024 x 768 canvas, moved ``offset`` px right and down."""
    return stroke([(100 + offset, 100 + offset, 1, 0), (200 + offset, 150 + offset, 1, 100)])


def test_far_misses_are_still_ordered_by_distance(verifier):
    """A doodle's guesses are often hundreds of pixels off: the reward still prefers the nearer one."""
    actual = doodle_line()
    verdicts = {offset: verifier.verify(canvas(1024, 768), doodle_line(offset), actual) for offset in (150, 300, 450)}
    rewards = [verdicts[offset].reward for offset in (150, 300, 450)]
    assert all(verdict.valid and verdict.details["iou"] == 0.0 for verdict in verdicts.values())
    assert rewards[0] > rewards[1] > rewards[2] > 0.0
    assert rewards[0] - rewards[2] > 0.05


def test_an_rl_group_of_far_guesses_has_a_signal():
    """nep rl's advantages need rewards that differ within a group: on a doodle every guess is far off."""
    rewards = VerifierRewards(build_domain(), RewardWeights())
    group = [doodle_line(offset) for offset in (150, 250, 350, 450)]
    parts = rewards.score([(canvas(1024, 768), guess, doodle_line()) for guess in group])
    matches = [part.match for part in parts]
    assert all(part.valid == 1.0 and part.error is None for part in parts)
    assert matches == sorted(matches, reverse=True) and float(torch.tensor(matches).std()) > 0.02


def test_invalid_strokes_are_reported_not_raised(verifier):
    cases = {
        "off canvas": stroke([(350, 50, 1, 0), (450, 60, 1, 10)]),
        "degenerate": stroke([(20, 20, 1, 0), (20, 20, 1, 10)]),
        "one point": stroke([(20, 20, 1, 0)]),
        "nan pressure": stroke([(20, 20, float("nan"), 0), (40, 40, 1, 10)]),
        "unset colour": stroke([(20, 20, 1, 0), (40, 40, 1, 10)], color="#00ff00"),
        "unset brush": stroke([(20, 20, 1, 0), (40, 40, 1, 10)], brush="k) Blender Blur"),
    }
    for name, action in cases.items():
        verdict = verifier.verify(canvas(), action, None)
        assert not verdict.valid, name
        assert verdict.details["error"], name


def test_colour_used_earlier_in_the_session_is_allowed(verifier):
    earlier = Event(1.0, action=Action("color", args={"color": "#00ff00"}))
    back = Event(2.0, action=Action("color", args={"color": "#202020"}))
    verdict = verifier.verify(canvas(400, 300, earlier, back), stroke([(20, 20, 1, 0), (40, 40, 1, 10)], color="#00ff00"))
    assert verdict.valid


def test_discrete_actions(verifier):
    assert verifier.verify(canvas(), Action("color", args={"color": "#ff0000"}), Action("color", args={"color": "#fe0000"})).reward == 1.0
    assert verifier.verify(canvas(), Action("size", args={"size": 4.0}), Action("size", args={"size": 40.0})).reward == 0.0
    assert not verifier.verify(canvas(), Action("layer.switch", args={"index": 3})).valid
    assert not verifier.verify(canvas(), Action("undo")).valid
    with_stroke = canvas(400, 300, Event(1.0, action=stroke([(20, 20, 1, 0), (40, 40, 1, 10)])))
    assert verifier.verify(with_stroke, Action("undo")).valid
    recoloured = canvas(400, 300, Event(1.0, action=Action("color", args={"color": "#ff0000"})))
    assert not verifier.verify(recoloured, Action("undo")).valid  # Krita's undo takes back no colour change
    undone = canvas(400, 300, Event(1.0, action=stroke([(20, 20, 1, 0), (40, 40, 1, 10)])), Event(2.0, action=Action("undo")))
    assert verifier.verify(undone, Action("undo")).details["error"].startswith("nothing to undo")
    assert not verifier.verify(canvas(), Action("smudge")).valid


def test_predictions_decoded_in_context_are_valid(verifier):
    context = canvas(256, 256)
    space = KritaActionSpace().for_context(context)
    allowed = space.allowed_next(["@stroke", "sx=7", "sy=7", "ox=7", "oy=7", "p=7"])
    assert "dx=4" in allowed and "dx=-32" in allowed and "dx=6" not in allowed  # x is already 252 of 256
    predicted = space.decode(["@stroke", "sx=1", "sy=1", "ox=0", "oy=0", "p=7", "dx=32", "dy=32"])
    assert verifier.verify(context, predicted).valid


def test_the_server_sends_strokes_as_the_context_writes_them_with_labels_that_describe_them() -> None:
    """A decoded stroke goes out unchanged (the unbound space would snap it again); a stroke the
    space rewrites is labelled as rewritten."""
    from nep_core.inference.predictor import Prediction, Predictor, Suggestion
    from nep_core.plugins import get_domain
    from nep_core.server.suggest import SuggestionService

    domain = get_domain("krita")
    context = Context(history=[Event(0.0, state={"canvas": {"width": 1024, "height": 768}, **PENCIL})])
    bound = domain.action_space.for_context(context)
    raw = Stroke(((14.3, 2.2, 1.0, 0.0), (37.7, 30.1, 1.0, 30.0), (60.2, 48.4, 1.0, 60.0)), "c) Pencil-2", "#202020", 4.0).to_action()
    decoded = bound.decode(bound.encode(raw))

    class Fixed(Predictor):
        def predict(self, context, k=3):
            return Prediction([Suggestion(decoded, 0.5, "decoded"), Suggestion(raw, 0.3, "raw: stale")], 0.2)

    prediction, dropped = SuggestionService(domain, Fixed()).suggest(context, 3)
    assert dropped == 0
    first, second = prediction.suggestions
    assert first.action == decoded and first.label == "decoded"
    assert second.action == bound.validate(raw) and second.action != raw
    assert second.label == bound.describe(second.action) != "raw: stale"
