"""Paired exact-match comparison: the sign test against binomial tails worked out by hand."""

from __future__ import annotations

import pytest

from nep_core.actions import NO_EDIT, Action
from nep_core.evaluation.metrics import Outcome, kind_right
from nep_core.evaluation.paired import paired_top1, paired_top1_by_group, sign_test
from nep_core.inference.predictor import Prediction, Suggestion


def test_the_sign_test_is_the_two_sided_binomial_tail():
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 0) == pytest.approx(2 / 32)  # 2 * P(X >= 5 | n=5) = 2 / 2^5
    assert sign_test(0, 5) == pytest.approx(2 / 32)  # symmetric
    assert sign_test(7, 3) == pytest.approx(2 * (120 + 45 + 10 + 1) / 1024)  # 2 * P(X >= 7 | n=10)
    assert sign_test(3, 3) == 1.0  # capped at 1


def _outcome(example, reference: Action, predicted: Action) -> Outcome:
    suggestions = [] if predicted.is_no_edit else [Suggestion(predicted, 0.9)]
    return Outcome(example, reference, Prediction(suggestions, p_no_edit=0.1 if suggestions else 0.9), 1.0)


def test_paired_exact_match_counts_the_examples_only_one_predictor_gets_right():
    right, wrong = Action(kind="add", args={"n": 1}), Action(kind="add", args={"n": 2})
    examples = [object() for _ in range(6)]
    references = [right, right, right, NO_EDIT, right, NO_EDIT]
    first = [right, right, wrong, NO_EDIT, right, wrong]  # right on 0, 1, 3, 4
    second = [right, wrong, wrong, wrong, NO_EDIT, NO_EDIT]  # right on 0, 5
    comparison = paired_top1(
        [_outcome(e, r, p) for e, r, p in zip(examples, references, first)],
        [_outcome(e, r, p) for e, r, p in zip(examples, references, second)],
    )
    assert (comparison.examples, comparison.only_first, comparison.only_second) == (6, 3, 1)
    assert comparison.difference == pytest.approx(4 / 6 - 2 / 6)
    assert comparison.p_value == pytest.approx(2 * (4 + 1) / 16)  # 2 * P(X >= 3 | n=4)
    assert comparison.as_dict()["difference"] == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="same examples"):
        paired_top1([_outcome(examples[0], right, right)], [_outcome(examples[1], right, right)])


def test_paired_kind_top1_counts_the_right_kind_with_any_arguments():
    one, two, other = Action(kind="add", args={"n": 1}), Action(kind="add", args={"n": 2}), Action(kind="remove")
    examples = [object() for _ in range(4)]
    references = [one, one, one, NO_EDIT]
    first = [two, one, other, NO_EDIT]  # the kind right on 0, 1, 3
    second = [other, other, two, one]  # the kind right on 2
    comparison = paired_top1(
        [_outcome(e, r, p) for e, r, p in zip(examples, references, first)],
        [_outcome(e, r, p) for e, r, p in zip(examples, references, second)],
        kind_right,
    )
    assert (comparison.only_first, comparison.only_second) == (3, 1)
    assert comparison.difference == pytest.approx(2 / 4)


def test_paired_by_session_counts_the_sessions_where_one_predictor_is_right_more_often():
    from types import SimpleNamespace

    right, wrong = Action(kind="add", args={"n": 1}), Action(kind="add", args={"n": 2})
    sessions = ["a"] * 5 + ["b", "b", "c", "c", "d"]
    examples = [SimpleNamespace(session_id=session) for session in sessions]
    references = [right] * 10
    first = [right] * 5 + [wrong, wrong, right, wrong, wrong]  # a: 5, b: 0, c: 1, d: 0
    second = [wrong] * 5 + [right, wrong, wrong, right, wrong]  # a: 0, b: 1, c: 1, d: 0
    pair = ([_outcome(e, r, p) for e, r, p in zip(examples, references, first)],
            [_outcome(e, r, p) for e, r, p in zip(examples, references, second)])
    by_example = paired_top1(*pair)
    assert (by_example.only_first, by_example.only_second) == (6, 2)  # one session's five carry the lead
    by_session = paired_top1_by_group(*pair)
    assert (by_session.examples, by_session.only_first, by_session.only_second) == (4, 1, 1)  # a ahead, b behind; c, d tied
    assert by_session.p_value == 1.0
    with pytest.raises(ValueError, match="same examples"):
        paired_top1_by_group(pair[0][:1], pair[1][5:6])
