"""Two predictors on the same examples, example by example: is one's top-1 lead more than noise?

On the same examples, only the examples where exactly one of the two is right tell them apart (right
by exact match, or by the action's kind: the operator, the edit type). Under
"equally good", each of those is a fair coin, so the two-sided exact sign test (McNemar's exact test)
gives the chance of a lead at least this large.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Callable, Hashable, Sequence

from nep_core.evaluation.metrics import Outcome, exactly_right


@dataclass(frozen=True)
class PairedComparison:
    examples: int
    only_first: int
    """Examples the first predictor's top-1 gets right and the second's does not."""
    only_second: int
    p_value: float
    """Two-sided exact sign test over the examples where they differ; 1.0 when none do."""

    @property
    def difference(self) -> float:
        """Top-1 of the first minus the second's."""
        return (self.only_first - self.only_second) / self.examples if self.examples else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "difference": self.difference}


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial test of ``wins`` against ``losses`` with p = 1/2."""
    trials = wins + losses
    if trials == 0:
        return 1.0
    tail = sum(math.comb(trials, count) for count in range(max(wins, losses), trials + 1))
    return min(1.0, 2 * tail / 2**trials)


def _check_same_examples(first: Sequence[Outcome], second: Sequence[Outcome]) -> None:
    if len(first) != len(second) or any(a.example is not b.example and a.example != b.example for a, b in zip(first, second)):
        raise ValueError("paired comparison needs both predictors' outcomes on the same examples in the same order")


def paired_top1(
    first: Sequence[Outcome], second: Sequence[Outcome], right: Callable[[Outcome], bool] = exactly_right
) -> PairedComparison:
    """Compare two predictors' top-1 on the same examples, in the same order; ``right`` says which
    outcomes count (exact match by default, ``metrics.kind_right`` for the kind alone)."""
    _check_same_examples(first, second)
    right_first = [right(outcome) for outcome in first]
    right_second = [right(outcome) for outcome in second]
    only_first = sum(a and not b for a, b in zip(right_first, right_second))
    only_second = sum(b and not a for a, b in zip(right_first, right_second))
    return PairedComparison(len(first), only_first, only_second, sign_test(only_first, only_second))


def paired_top1_by_group(
    first: Sequence[Outcome], second: Sequence[Outcome], group: Callable[[Outcome], Hashable] = lambda outcome: outcome.example.session_id,
    right: Callable[[Outcome], bool] = exactly_right,
) -> PairedComparison:
    """``paired_top1`` with groups of examples as the units (sessions by default): ``examples`` counts
    the groups, ``only_first`` those where the first predictor is right more often. Examples of one
    session hang together (one rename carried to ten call sites), so this is the safer test when a
    few sessions could carry a lead."""
    _check_same_examples(first, second)
    lead: Counter = Counter()
    for a, b in zip(first, second):
        lead[group(a)] += int(right(a)) - int(right(b))
    ahead, behind = sum(value > 0 for value in lead.values()), sum(value < 0 for value in lead.values())
    return PairedComparison(len(lead), ahead, behind, sign_test(ahead, behind))
