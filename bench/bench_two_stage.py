"""Two-stage prediction (a location model, then an edit model) against the single model: accuracy and
in-process latency on the same held-out examples, in one run; prints JSON.

    NEP_HOME=/tmp/code/home_default python bench/bench_two_stage.py --domain code \\
        --model /tmp/code/run_default --location-model /tmp/twostage/loc --examples 200

The examples are those `nep eval` uses (``load_eval_data``: the split's examples spread evenly); the
first ``--warmup`` are predicted but not counted. Each example is predicted by both predictors in turn,
the order alternating, so that a busy machine slows them alike.

- Accuracy: exact match top-1 and top-k, location accuracy, content accuracy given the location, and
  NO_EDIT precision, recall and F1, by ``nep_core.evaluation.compute_metrics`` (as `nep eval` reports them).
- Latency: ``predict`` p50/p95, and p50 over the examples each predictor answered with NO_EDIT and with
  an edit; ``ratio_*`` are two-stage over single. For the two-stage predictor also the share answered
  by the location model alone (the NO_EDIT fast path) and the time of each stage.
- Baseline: the single model through plain ``transformers`` ``generate`` (as ``bench_latency.py`` runs
  it), timed in turn with the two on each example; ``speedup_vs_generate_*`` is generate's p50 over each
  predictor's.

The `tags` test domain is found through tests/plugins when NEP_PLUGINS_DIR is not set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench_latency import generator, machine, percentile, summary

ACCURACY = (
    "exact_match_top1",
    "exact_match_topk",
    "location_accuracy",
    "content_accuracy",
    "no_edit_precision",
    "no_edit_recall",
    "no_edit_f1",
    "edit_examples",
)


def timed_outcomes(predictors: dict, domain, examples, top_k: int, warmup: int, baseline) -> tuple[dict[str, list], list[float]]:
    """Per predictor, one ``Outcome`` per example after the first ``warmup``; the predictors take turns
    on each example, the first one alternating, then ``baseline(context)`` runs; and its latencies."""
    from nep_core.evaluation import Outcome
    from nep_core.inference.baselines import canonical_action

    outcomes: dict[str, list] = {name: [] for name in predictors}
    baseline_ms: list[float] = []
    for index, example in enumerate(examples):
        reference = canonical_action(example.target, domain.action_space)
        names = list(predictors) if index % 2 == 0 else list(reversed(predictors))
        for name in names:
            started = time.perf_counter()
            prediction = predictors[name].predict(example.context, top_k)
            latency_ms = (time.perf_counter() - started) * 1000.0
            if index >= warmup:
                outcomes[name].append(Outcome(example, reference, prediction, latency_ms))
        started = time.perf_counter()
        baseline(example.context)
        if index >= warmup:
            baseline_ms.append((time.perf_counter() - started) * 1000.0)
    return outcomes, baseline_ms


def p50(values: list[float]) -> float | None:
    return round(percentile(values, 0.5), 4) if values else None


def describe(outcomes: list, domain, top_k: int) -> dict:
    """Accuracy and latency of one predictor's outcomes."""
    from nep_core.evaluation import compute_metrics

    metrics = compute_metrics(outcomes, domain, top_k)
    report = {name: None if metrics[name] is None else round(metrics[name], 4) for name in ACCURACY}
    no_edit = [outcome.latency_ms for outcome in outcomes if outcome.best.is_no_edit]
    edits = [outcome.latency_ms for outcome in outcomes if not outcome.best.is_no_edit]
    report["latency"] = summary([outcome.latency_ms for outcome in outcomes])
    report["no_edit_answers"] = {"count": len(no_edit), "p50_ms": p50(no_edit)}
    report["edit_answers"] = {"count": len(edits), "p50_ms": p50(edits)}
    return report


def stages(outcomes: list) -> dict:
    """How the two-stage predictor answered: by the location model alone (fast path), or with the edit model."""
    details = [outcome.prediction.details for outcome in outcomes]
    fast = [detail for detail in details if detail["stage"] == "location"]
    slow = [detail for detail in details if detail["stage"] == "edit"]
    return {
        "fast_path_share": round(len(fast) / len(details), 4),
        "location_stage_p50_ms": p50([detail["location_ms"] for detail in details]),
        "edit_stage_p50_ms": p50([detail["edit_ms"] for detail in slow]),
        "edit_stage_skipped_model": sum(detail.get("edit_prompt_tokens") == 0 for detail in slow),
    }


def ratio(two: float | None, one: float | None) -> float | None:
    return None if two is None or not one else round(two / one, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", required=True)
    parser.add_argument("--model", required=True, help="the single model (a `nep train` checkpoint), also the edit model")
    parser.add_argument("--location-model", required=True, help="a checkpoint of `nep train --target location`")
    parser.add_argument("--examples", type=int, default=200, help="held-out examples measured")
    parser.add_argument("--warmup", type=int, default=10, help="examples predicted first and not counted")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--split", default="test")
    parser.add_argument("--data", default=None, help="sessions to draw examples from (default: the domain's default data)")
    args = parser.parse_args()

    from transformers.utils import logging as transformers_logging

    from nep_core.evaluation import load_eval_data
    from nep_core.inference import load_predictor
    from nep_core.plugins import get_domain

    transformers_logging.disable_progress_bar()
    domain = get_domain(args.domain)
    evaluation = load_eval_data(domain, args.data, args.split, args.warmup + args.examples)
    predictors = {
        "single": load_predictor(args.model, domain),
        "two_stage": load_predictor(args.model, domain, location_model=args.location_model),
    }
    outcomes, generate_ms = timed_outcomes(predictors, domain, evaluation.examples, args.top_k, args.warmup, generator(predictors["single"]))
    generate = summary(generate_ms)
    single, two = (describe(outcomes[name], domain, args.top_k) for name in ("single", "two_stage"))
    two.update(stages(outcomes["two_stage"]))
    agree = sum(one.best == other.best for one, other in zip(outcomes["single"], outcomes["two_stage"]))
    report = {
        "domain": args.domain,
        "model": args.model,
        "location_model": args.location_model,
        "split": args.split,
        "examples": len(outcomes["single"]),
        "top_k": args.top_k,
        "mean_history_events": round(statistics.fmean(len(o.example.context.history) for o in outcomes["single"]), 1),
        "single": single,
        "two_stage": two,
        "same_top1_share": round(agree / len(outcomes["single"]), 4),
        "ratio_p50": ratio(two["latency"]["p50_ms"], single["latency"]["p50_ms"]),
        "ratio_p95": ratio(two["latency"]["p95_ms"], single["latency"]["p95_ms"]),
        "ratio_no_edit_answers_p50": ratio(two["no_edit_answers"]["p50_ms"], single["no_edit_answers"]["p50_ms"]),
        "ratio_edit_answers_p50": ratio(two["edit_answers"]["p50_ms"], single["edit_answers"]["p50_ms"]),
        "generate": generate,
        "speedup_vs_generate_single_p50": ratio(generate["p50_ms"], single["latency"]["p50_ms"]),
        "speedup_vs_generate_two_stage_p50": ratio(generate["p50_ms"], two["latency"]["p50_ms"]),
        "machine": machine(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
