"""The metrics of ``nep eval`` (DESIGN.md section 7), computed from per-example outcomes.

Every metric function takes the outcomes and returns a flat ``{name: value}`` dict; ``compute_metrics``
merges the standard ones with any extra ones a caller (or, later, a domain) adds. A rate whose
denominator is empty is ``None`` (JSON null), never a made-up 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from nep_core.actions import Action
from nep_core.inference.predictor import Prediction
from nep_core.verifier import Verdict

if TYPE_CHECKING:
    from nep_core.domain import Domain
    from nep_core.examples import Example

MetricValue = float | int | None
Metrics = dict[str, MetricValue]


@dataclass(frozen=True)
class Outcome:
    """One example as a predictor saw it: the canonical reference, the prediction and its verdicts.

    ``verdicts`` (by verifier name) exist only when the top-1 prediction is an edit.
    """

    example: Example
    reference: Action
    prediction: Prediction
    latency_ms: float
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    @property
    def best(self) -> Action:
        return self.prediction.best

    def top(self, k: int) -> list[Action]:
        return self.prediction.ranked()[:k]


def exactly_right(outcome: Outcome) -> bool:
    """The top-1 prediction (which may be NO_EDIT) is the reference."""
    return outcome.best == outcome.reference


def kind_right(outcome: Outcome) -> bool:
    """The top-1 prediction's kind (the operator, the tool; NO_EDIT counts as one) is the reference's."""
    return outcome.best.kind == outcome.reference.kind


@dataclass(frozen=True)
class MetricContext:
    """What metric functions may need besides the outcomes."""

    domain: Domain
    top_k: int


MetricFunction = Callable[[Sequence[Outcome], MetricContext], Metrics]


def rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation between ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def exact_match(outcomes: Sequence[Outcome], context: MetricContext) -> Metrics:
    """Top-1: ``Prediction.best`` (which may be NO_EDIT) equals the reference; top-k: the reference is
    among the first k of ``Prediction.ranked()``. Kind top-1: the best suggestion's kind (the operator,
    the tool; NO_EDIT counts as a kind) is the reference's, whatever its settings."""
    top1 = sum(map(exactly_right, outcomes))
    topk = sum(outcome.reference in outcome.top(context.top_k) for outcome in outcomes)
    kind = sum(map(kind_right, outcomes))
    return {
        "examples": len(outcomes),
        "kind_top1": rate(kind, len(outcomes)),
        "exact_match_top1": rate(top1, len(outcomes)),
        "exact_match_topk": rate(topk, len(outcomes)),
        "top_k": context.top_k,
    }


def location_and_content(outcomes: Sequence[Outcome], context: MetricContext) -> Metrics:
    """Over examples whose reference is an edit: the top-1 is an edit at the reference's location
    (``action_space.location``); and, given the right location, it is exactly the reference."""
    space = context.domain.action_space
    edits = [outcome for outcome in outcomes if not outcome.reference.is_no_edit]
    located = [
        outcome
        for outcome in edits
        if not outcome.best.is_no_edit and space.location(outcome.best) == space.location(outcome.reference)
    ]
    exact = sum(outcome.best == outcome.reference for outcome in located)
    return {
        "edit_examples": len(edits),
        "location_accuracy": rate(len(located), len(edits)),
        "content_accuracy": rate(exact, len(located)),
    }


def repeats_and_new_edits(outcomes: Sequence[Outcome], context: MetricContext) -> Metrics:
    """Over examples whose reference is an edit: the share that repeats an edit already in the context
    (the same action as the action space writes it), and exact match top-1 on repeats and on new edits.
    A repeat can be copied from the context; a new edit (a fresh size, another word) must be guessed."""
    from nep_core.inference.baselines import canonical_action

    space = context.domain.action_space
    written: dict[int, Action] = {}  # id(action) -> as the space writes it: a session's examples share their events

    def canonical(action: Action) -> Action:
        known = written.get(id(action))
        if known is None:
            known = written[id(action)] = canonical_action(action, space)
        return known

    repeats: list[bool] = []
    new: list[bool] = []
    for outcome in outcomes:
        if outcome.reference.is_no_edit:
            continue
        earlier = {canonical(action) for action in outcome.example.context.edits()}
        (repeats if outcome.reference in earlier else new).append(exactly_right(outcome))
    return {
        "repeat_share": rate(len(repeats), len(repeats) + len(new)),
        "exact_match_repeats": rate(sum(repeats), len(repeats)),
        "exact_match_new": rate(sum(new), len(new)),
    }


def no_edit_scores(outcomes: Sequence[Outcome], context: MetricContext) -> Metrics:
    """NO_EDIT as the positive class: precision, recall and F1 of predicting "suggest nothing"."""
    predicted = [outcome.best.is_no_edit for outcome in outcomes]
    actual = [outcome.reference.is_no_edit for outcome in outcomes]
    true_positive = sum(p and a for p, a in zip(predicted, actual))
    precision = rate(true_positive, sum(predicted))
    recall = rate(true_positive, sum(actual))
    f1 = None
    if precision is not None and recall is not None:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"no_edit_precision": precision, "no_edit_recall": recall, "no_edit_f1": f1}


def verifier_scores(outcomes: Sequence[Outcome], context: MetricContext) -> Metrics:
    """Each domain verifier on the top-1 predictions that are edits: validity rate, mean reward and the
    mean of each numeric ``details`` entry; ``validity_rate`` is the share all verifiers accept."""
    judged = [outcome for outcome in outcomes if outcome.verdicts]
    out: Metrics = {
        "edit_predictions": len(judged),
        "validity_rate": rate(sum(all(v.valid for v in outcome.verdicts.values()) for outcome in judged), len(judged)),
    }
    for name in sorted(context.domain.verifiers):
        verdicts = [outcome.verdicts[name] for outcome in judged if name in outcome.verdicts]
        out[f"verifier.{name}.valid_rate"] = rate(sum(verdict.valid for verdict in verdicts), len(verdicts))
        out[f"verifier.{name}.mean_reward"] = (
            sum(verdict.reward for verdict in verdicts) / len(verdicts) if verdicts else None
        )
        sums: dict[str, list[float]] = {}
        for verdict in verdicts:
            for key, value in verdict.details.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    sums.setdefault(key, []).append(float(value))
        for key, values in sorted(sums.items()):
            out[f"verifier.{name}.{key}"] = sum(values) / len(values)
    return out


def edit_identity(example: Example) -> tuple[str, int]:
    """Which of its session's edits an example's target is: the target is the next edit after the
    trigger, so it is the session's edit number ``len(edits so far)``."""
    return example.session_id, len(example.context.edits())


def actions_saved(outcomes: Sequence[Outcome], context: MetricContext) -> Metrics:
    """A simulated user accepts the top-1 suggestion when it is exactly right: the share of the
    reference edits (each counted once, though several trigger points may precede it) that some
    trigger point before it suggested exactly."""
    reference_edits: set[tuple[str, int]] = set()
    saved: set[tuple[str, int]] = set()
    for outcome in outcomes:
        if outcome.reference.is_no_edit:
            continue
        identity = edit_identity(outcome.example)
        reference_edits.add(identity)
        if outcome.best == outcome.reference:
            saved.add(identity)
    return {"reference_edits": len(reference_edits), "actions_saved": rate(len(saved), len(reference_edits))}


def latency(outcomes: Sequence[Outcome], context: MetricContext) -> Metrics:
    """Wall-clock time of each ``predict`` call, as the caller measured it."""
    values = [outcome.latency_ms for outcome in outcomes]
    return {"latency_p50_ms": percentile(values, 50), "latency_p95_ms": percentile(values, 95)}


STANDARD_METRICS: tuple[MetricFunction, ...] = (
    exact_match,
    location_and_content,
    repeats_and_new_edits,
    no_edit_scores,
    verifier_scores,
    actions_saved,
    latency,
)


def compute_metrics(
    outcomes: Sequence[Outcome], domain: Domain, top_k: int, extra: Sequence[MetricFunction] = ()
) -> Metrics:
    """The standard metrics plus ``extra`` ones, merged into one flat dict (later names win)."""
    context = MetricContext(domain, top_k)
    metrics: Metrics = {}
    for function in (*STANDARD_METRICS, *extra):
        metrics.update(function(outcomes, context))
    return metrics
