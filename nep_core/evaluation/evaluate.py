"""Run predictors over the same examples and compute their metrics.

The examples come from the same pipeline as training (``split_sessions`` then ``build_examples`` with
the domain's example config), so the test split holds sessions training never saw, and only the
train split is balanced: evaluation sees the true NO_EDIT rate.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from nep_core.errors import NepError
from nep_core.evaluation.metrics import MetricFunction, Metrics, Outcome, compute_metrics
from nep_core.examples import SPLITS
from nep_core.inference.baselines import canonical_action
from nep_core.inference.predictor import Predictor
from nep_core.verifier import PLUGIN_FAILURES, describe_raise, scored_verdict, verifier_fault

if TYPE_CHECKING:
    from nep_core.domain import Domain
    from nep_core.examples import Example


@dataclass
class EvalData:
    """The train split (to fit baselines) and the examples to evaluate on."""

    train: list[Example]
    examples: list[Example]
    split: str
    sessions: int
    split_examples: int


def sample_evenly(examples: Sequence[Example], limit: int) -> list[Example]:
    """``limit`` examples spread evenly over ``examples`` (all of them when ``limit`` is 0 or larger)."""
    if limit <= 0 or limit >= len(examples):
        return list(examples)
    step = len(examples) / limit
    return [examples[int(index * step)] for index in range(limit)]


def load_eval_data(
    domain: Domain, data: str | os.PathLike | None = None, split: str = "test", limit: int = 0, progress=None, warnings=None
) -> EvalData:
    """Sessions from ``data`` (default: the domain's default dataset), split and turned into examples;
    what reading them reported (lines and drawings skipped) goes to ``warnings(messages)`` first."""
    from nep_core.dataset import load_sessions
    from nep_core.examples import build_examples, split_sessions

    if split not in SPLITS:
        raise NepError(f"unknown split '{split}' (choose from: {', '.join(SPLITS)})")
    sessions, report = load_sessions(domain, data, strict=False, progress=progress)  # as training reads it: bad lines are reported and skipped
    if warnings is not None and report.warnings:
        warnings(report.warnings)
    examples, made = build_examples(split_sessions(sessions, domain.examples), domain)
    unwritable = made.unwritable_warning()
    if warnings is not None and unwritable:
        warnings([unwritable])
    chosen = examples[split]
    if not chosen:
        raise NepError(
            f"the {split} split has no examples ({len(sessions)} sessions in all); "
            f"pass more sessions with --data, or another split with --split"
        )
    return EvalData(examples["train"], sample_evenly(chosen, limit), split, len(sessions), len(chosen))


VERIFY_CHUNK = 32
"""Examples predicted before their verdicts are asked for in one ``verify_many`` batch."""


def run_predictor(
    predictor: Predictor,
    domain: Domain,
    examples: Sequence[Example],
    top_k: int = 3,
    on_example: Callable[[], None] | None = None,
    min_confidence: float | None = None,
    min_probability: float = 0.0,
) -> list[Outcome]:
    """Predict every example; time each call; judge edit top-1 predictions with every domain verifier.

    Each prediction is scored as the app shows it: suggestions below ``min_confidence`` (None: the
    domain's ``min_confidence``), or whose own probability is below ``min_probability``, are left
    out. Verdicts are asked for in batches (``Verifier.verify_many``), so a verifier can run them in
    parallel.
    """
    space = domain.action_space
    floor = domain.min_confidence if min_confidence is None else min_confidence
    outcomes: list[Outcome] = []
    for start in range(0, len(examples), VERIFY_CHUNK):
        chunk = []
        for example in examples[start : start + VERIFY_CHUNK]:
            reference = canonical_action(example.target, space)
            started = time.perf_counter()
            prediction = predictor.predict(example.context, top_k)
            latency_ms = (time.perf_counter() - started) * 1000.0
            chunk.append(Outcome(example, reference, prediction.shown(floor, min_probability), latency_ms, {}))
        edits = [outcome for outcome in chunk if not outcome.prediction.best.is_no_edit]
        items = [(outcome.example.context, outcome.prediction.best, outcome.reference) for outcome in edits]
        for name, verifier in domain.verifiers.items():
            try:
                verdicts = list(verifier.verify_many(items)) if items else []
            except PLUGIN_FAILURES as error:  # a plugin's bug: say which verifier and where, in one line
                raise verifier_fault(name, verifier, f"{describe_raise(error)} while judging {len(items)} predictions; "
                                                     "its scores cannot be averaged") from None
            if len(verdicts) != len(items):
                raise verifier_fault(name, verifier, f"returned {len(verdicts)} verdicts for {len(items)} predictions; "
                                                     "verify_many must return one Verdict per item")
            for outcome, verdict in zip(edits, verdicts):
                try:
                    outcome.verdicts[name] = scored_verdict(verdict)
                except ValueError as error:
                    raise verifier_fault(name, verifier, f"{error} (session {outcome.example.session_id}); its scores cannot be averaged") from None
        outcomes.extend(chunk)
        if on_example is not None:
            for _ in chunk:
                on_example()
    return outcomes


def evaluate(
    predictor: Predictor,
    domain: Domain,
    examples: Sequence[Example],
    top_k: int = 3,
    extra_metrics: Sequence[MetricFunction] = (),
    on_example: Callable[[], None] | None = None,
    keep: list[Outcome] | None = None,
    min_confidence: float | None = None,
    min_probability: float = 0.0,
) -> Metrics:
    """The metrics of ``predictor`` on ``examples``; the outcomes are appended to ``keep`` when given."""
    outcomes = run_predictor(predictor, domain, examples, top_k, on_example, min_confidence, min_probability)
    if keep is not None:
        keep.extend(outcomes)
    return compute_metrics(outcomes, domain, top_k, extra_metrics)


def evaluate_all(
    predictors: Sequence[Predictor],
    domain: Domain,
    examples: Sequence[Example],
    top_k: int = 3,
    extra_metrics: Sequence[MetricFunction] = (),
    on_example: Callable[[str], None] | None = None,
    outcomes: dict[str, list[Outcome]] | None = None,
    min_confidence: float | None = None,
    min_probability: float = 0.0,
) -> dict[str, Metrics]:
    """Each predictor's metrics on the same examples, by predictor name (in the given order); with
    ``outcomes`` (a dict), each predictor's outcomes are kept there under its name.
    ``min_confidence`` and ``min_probability``: as in ``run_predictor``."""
    results: dict[str, Metrics] = {}
    for predictor in predictors:
        if predictor.name in results:
            raise ValueError(f"two predictors are named '{predictor.name}'")
        callback = None if on_example is None else (lambda name=predictor.name: on_example(name))
        keep = None if outcomes is None else outcomes.setdefault(predictor.name, [])
        results[predictor.name] = evaluate(
            predictor, domain, examples, top_k, extra_metrics, callback, keep, min_confidence, min_probability
        )
    return results
