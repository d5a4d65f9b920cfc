"""Symbolic action spaces: round trips, quantization error, and the decoding grammar."""

from __future__ import annotations

import random

import pytest

from nep_core.action_space import EOS, NO_EDIT_TOKEN, KindSpec, Slot, SymbolicActionSpace
from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction

SPACE = SymbolicActionSpace(
    name="demo",
    kinds=[
        KindSpec("move", [Slot.choice("target", ["left", "right"]), Slot.number("amount", 0.0, 2.0, 0.25)]),
        KindSpec("toggle", [Slot.choice("flag", [True, False])]),
        KindSpec("look", [], edit=False),
    ],
)


def test_round_trip_and_no_edit():
    action = Action("move", target="left", args={"amount": 0.75})
    tokens = SPACE.encode(action)
    assert tokens == ["@move", 'target="left"', "amount=0.75"]
    assert SPACE.decode(tokens) == action
    assert SPACE.encode(NO_EDIT) == [NO_EDIT_TOKEN]
    assert SPACE.decode([NO_EDIT_TOKEN]).is_no_edit
    assert SPACE.decode(["@look"]).edit is False


def test_quantization_error_is_at_most_half_a_step():
    rng = random.Random(0)
    worst = 0.0
    for _ in range(2000):
        value = rng.uniform(0.0, 2.0)
        decoded = SPACE.validate(Action("move", target="right", args={"amount": value}))
        worst = max(worst, abs(decoded.args["amount"] - value))
    assert worst <= 0.125 + 1e-9
    assert worst > 0.1  # the bound is tight: the grid really is 0.25 apart


@pytest.mark.parametrize(
    "action, message",
    [
        (Action("jump"), "unknown action kind 'jump'"),
        (Action("move", target="up", args={"amount": 1.0}), "not one of this action's values"),
        (Action("move", target="left", args={"amount": 9.0}), "outside [0.0, 2.0]"),
        (Action("move", target="left"), "missing argument 'amount'"),
        (Action("toggle", args={"flag": 1}), "not one of this action's values"),
        (Action("look", args={"zoom": 2}), "unknown argument 'zoom'"),
    ],
)
def test_invalid_actions_are_refused(action, message):
    with pytest.raises(InvalidAction) as caught:
        SPACE.encode(action)
    assert message in str(caught.value)


def test_every_grammar_path_decodes_to_a_valid_action():
    """Walk the grammar at random: every completed token sequence decodes."""
    rng = random.Random(1)
    for _ in range(500):
        prefix: list[str] = []
        while True:
            allowed = list(SPACE.allowed_next(prefix))
            assert allowed, f"dead end after {prefix}"
            token = rng.choice(allowed)
            if token == EOS:
                break
            prefix.append(token)
        action = SPACE.decode(prefix)
        assert SPACE.encode(action) == prefix


def test_grammar_offers_eos_only_on_complete_actions():
    assert EOS not in SPACE.allowed_next([])
    assert EOS not in SPACE.allowed_next(["@move", 'target="left"'])
    assert list(SPACE.allowed_next(["@move", 'target="left"', "amount=0.5"])) == [EOS]
    assert list(SPACE.allowed_next([NO_EDIT_TOKEN])) == [EOS]
    assert list(SPACE.allowed_next(["@look"])) == [EOS]
    assert SPACE.allowed_next(["bogus"]) == []


def test_duplicate_kind_is_refused():
    with pytest.raises(ValueError, match="declared twice"):
        SymbolicActionSpace(kinds=[KindSpec("a"), KindSpec("a")])
