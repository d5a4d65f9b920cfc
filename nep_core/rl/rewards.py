"""Verifiable rewards: the domain's verifiers judge each rollout against what the user really did next.

``total = valid_weight * valid + match_weight * match + no_edit_weight * calibration`` where

- ``valid`` is 1 when the rollout decodes to an action and every verifier finds it valid (NO_EDIT is valid);
- ``match`` is the verifiers' mean reward against the reference (partial credit where a verifier
  gives it, e.g. chrF for code), or with ``match_mode="exact"`` 1 when the action is exactly the
  reference as the action space writes it, as exact match top-1 counts (NO_EDIT matches NO_EDIT only);
- ``calibration`` judges the decision to speak: +1 for NO_EDIT when the user did nothing
  predictable, -1 for NO_EDIT when they did act, -1 for an edit when they did nothing (eagerness),
  0 for an edit when they acted (``match`` judges its content).

With the default weights, suggesting beats silence in expectation about where it does for exact
match (docs/rl.md). A rollout that does not decode, or that a verifier raises on, scores as invalid
(0, 0, -1) and is counted in ``RewardReport``; it is never a silent zero. When no weighted part
depends on a verdict (``--reward-valid 0 --match-mode exact``) the verifiers are not run, and
``valid`` is None (not measured) instead of a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from nep_core.actions import Action
from nep_core.domain import Domain
from nep_core.errors import NepError
from nep_core.inference.baselines import canonical_action
from nep_core.rl.reward_weights import RewardWeights
from nep_core.session import Context
from nep_core.verifier import PLUGIN_FAILURES, Verdict, describe_raise, scored_verdict, verifier_fault

if TYPE_CHECKING:
    from nep_core.evaluation.metrics import MetricFunction


@dataclass(frozen=True)
class RewardParts:
    valid: float | None
    """None when the verifiers were not asked (no weighted part needed them)."""
    match: float
    calibration: float
    total: float
    error: str | None = None


@dataclass
class RewardReport:
    """Counts over the rollouts scored so far: those that did not decode, and verifier errors by message."""

    undecodable: int = 0
    verifier_errors: dict[str, int] = field(default_factory=dict)


class VerifierRewards:
    """Scores rollouts with every verifier of ``domain`` (in batches, through ``verify_many``)."""

    def __init__(self, domain: Domain, weights: RewardWeights = RewardWeights()):
        if not domain.verifiers:
            raise NepError(f"domain '{domain.name}' has no verifiers, so rollouts cannot be rewarded; nep rl needs at least one")
        self.domain = domain
        self.weights = weights
        self.report = RewardReport()

    def score(self, items: Sequence[tuple[Context, Action | None, Action | None]]) -> list[RewardParts]:
        """One ``RewardParts`` per ``(context, rollout action or None, reference)``."""
        verdicts: dict[int, list] = {index: [] for index, (_, action, _) in enumerate(items) if action is not None and not action.is_no_edit}
        errors: dict[int, str] = {}
        asked = [index for index in verdicts]
        judges = self.domain.verifiers.items() if self.weights.needs_verifiers else ()
        for name, verifier in judges:
            indexes = [index for index in asked if index not in errors]
            batch = [items[index] for index in indexes]
            try:
                results = list(verifier.verify_many(batch))
                if len(results) != len(batch):
                    raise ValueError(f"{len(results)} verdicts for {len(batch)} rollouts")
            except PLUGIN_FAILURES:  # one item raised, or the batch came back short: judge them one by one
                results = []
                for index, item in zip(indexes, batch):
                    try:
                        results.append(verifier.verify(*item))
                    except PLUGIN_FAILURES as error:
                        self._count_error(errors, index, str(verifier_fault(name, verifier, describe_raise(error))))
                        results.append(None)
            for index, verdict in zip(indexes, results):
                if index in errors:
                    continue
                try:
                    verdicts[index].append(scored_verdict(verdict))
                except ValueError as error:
                    self._count_error(errors, index, str(verifier_fault(name, verifier, str(error))))
        parts = []
        for index, (_, action, reference) in enumerate(items):
            if action is None:
                self.report.undecodable += 1
                parts.append(self._invalid("the rollout is not a complete valid action"))
            elif index in errors:
                parts.append(self._invalid(errors[index]))
            elif not self.weights.needs_verifiers:
                parts.append(self.from_verdicts(action, reference, None))
            else:
                parts.append(self.from_verdicts(action, reference, verdicts.get(index, [])))
        return parts

    def _count_error(self, errors: dict[int, str], index: int, message: str) -> None:
        errors[index] = message
        self.report.verifier_errors[message] = self.report.verifier_errors.get(message, 0) + 1

    def from_verdicts(self, action: Action, reference: Action | None, verdicts: Sequence[Verdict] | None) -> RewardParts:
        """The reward of a decoded ``action`` given every verifier's verdict on it (none for NO_EDIT;
        ``None``: the verifiers were not asked)."""
        if action.is_no_edit:
            silent_right = reference is None or reference.is_no_edit
            return self._combine(1.0, float(silent_right), 1.0 if silent_right else -1.0)
        valid = None if verdicts is None else float(all(verdict.valid for verdict in verdicts))
        if self.weights.match_mode == "exact":
            match = float(reference is not None and action == canonical_action(reference, self.domain.action_space))
        else:
            match = sum(verdict.reward for verdict in verdicts) / len(verdicts)
        acted = reference is not None and not reference.is_no_edit
        return self._combine(valid, match, 0.0 if acted else -1.0)

    def _combine(self, valid: float | None, match: float, calibration: float, error: str | None = None) -> RewardParts:
        weights = self.weights
        total = weights.valid * (valid or 0.0) + weights.match * match + weights.no_edit * calibration
        return RewardParts(valid, match, calibration, total, error)

    def _invalid(self, error: str) -> RewardParts:
        return self._combine(0.0, 0.0, -1.0, error)


def served_reward_metric(weights: RewardWeights = RewardWeights()) -> MetricFunction:
    """A ``nep eval`` metric: the RL reward of each served top-1 decision, from the verdicts the
    evaluation already has (``rl_reward``, and its parts ``rl_reward_valid``, ``_match``, ``_calibration``)."""

    def served_reward(outcomes, context) -> dict[str, float | None]:
        rewards = VerifierRewards(context.domain, weights)
        parts = [rewards.from_verdicts(outcome.best, outcome.reference, list(outcome.verdicts.values())) for outcome in outcomes]
        count = len(parts)

        def mean(values) -> float | None:
            return sum(values) / count if count else None

        return {
            "rl_reward": mean(part.total for part in parts),
            "rl_reward_valid": mean(part.valid for part in parts),
            "rl_reward_match": mean(part.match for part in parts),
            "rl_reward_calibration": mean(part.calibration for part in parts),
        }

    return served_reward
