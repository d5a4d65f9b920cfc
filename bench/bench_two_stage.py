"""Two-stage prediction (a location model, then an edit model) against the single model: accuracy and
in-process latency on the same held-out examples, in one run; prints JSON.

    NEP_HOME=/tmp/code/home_default python bench/bench_two_stage.py --domain code \\
        --model /tmp/code/run_default --location-model /tmp/twostage/loc --examples 200

The examples are those `nep eval` uses (``load_eval_data``: the split's examples spread evenly); the
first ``--warmup`` are predicted but not counted. On each example the two predictors and the two
``generate`` baselines run in turn, in an order rotated from one example to the next, so that a busy
machine slows them alike and none always runs first or last.

- Accuracy: exact match top-1 and top-k, location accuracy, content accuracy given the location, and
  NO_EDIT precision, recall and F1, by ``nep_core.evaluation.compute_metrics`` (as `nep eval` reports them).
- Latency: ``predict`` p50/p95, and p50 over the examples each predictor answered with NO_EDIT and with
  an edit; ``ratio_*`` are two-stage over single. For the two-stage predictor also the share answered
  by the location model alone (the NO_EDIT fast path) and the time of each stage.
- Baselines: the single model through plain ``transformers`` ``generate`` (``bench_latency.py``'s
  ``generator``): ``generate_constrained_topk``, beam search under the action grammar returning
  ``--top-k`` sequences, the job both predictors do; ``speedup_vs_generate_*`` is its p50 over each
  predictor's. ``generate_greedy`` (greedy and unconstrained, the cheapest call there is, though its
  answer may be no valid action) is kept as ``speedup_vs_generate_greedy_*``.

The `tags` test domain is found through tests/plugins when NEP_PLUGINS_DIR is not set. Progress goes
to stderr.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    argument_parser, check_models, machine, median, non_negative_int, positive_int, progress, ratio, run_main, summary,
    use_test_domains,
)
from bench_latency import cuda_synchronizer, generator  # noqa: E402

use_test_domains()

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


def timed_outcomes(predictors: dict, domain, examples, top_k: int, warmup: int, baselines: dict) -> tuple[dict[str, list], dict[str, list[float]]]:
    """Per predictor, one ``Outcome`` per example after the first ``warmup``; and per baseline
    (``baseline(context)``), its milliseconds. On each example every predictor and baseline runs once,
    in an order rotated from one example to the next."""
    from nep_core.evaluation import Outcome
    from nep_core.inference.baselines import canonical_action

    synchronize = cuda_synchronizer(next(iter(predictors.values())))
    outcomes: dict[str, list] = {name: [] for name in predictors}
    baseline_ms: dict[str, list[float]] = {name: [] for name in baselines}
    turns = [*predictors, *baselines]
    for index, example in enumerate(examples):
        reference = canonical_action(example.target, domain.action_space)
        shift = index % len(turns)
        for name in turns[shift:] + turns[:shift]:
            started = time.perf_counter()
            if name in predictors:
                prediction = predictors[name].predict(example.context, top_k)
            else:
                baselines[name](example.context)
            synchronize()
            latency_ms = (time.perf_counter() - started) * 1000.0
            if index < warmup:
                continue
            if name in predictors:
                outcomes[name].append(Outcome(example, reference, prediction, latency_ms))
            else:
                baseline_ms[name].append(latency_ms)
        if (index + 1) % 25 == 0:
            progress(f"{index + 1} of {len(examples)} examples")
    return outcomes, baseline_ms


def p50(values: list[float]) -> float | None:
    return round(median(values), 4) if values else None


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


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--domain", required=True, help="the domain (`nep domains` lists them)")
    parser.add_argument("--model", required=True, help="the single model (a `nep train` checkpoint), also the edit model")
    parser.add_argument("--location-model", required=True, help="a checkpoint of `nep train --target location`")
    parser.add_argument("--examples", type=positive_int, default=200, help="held-out examples measured")
    parser.add_argument("--warmup", type=non_negative_int, default=10, help="examples predicted first and not counted")
    parser.add_argument("--top-k", type=positive_int, default=3, help="suggestions asked for (and sequences the constrained generate returns)")
    parser.add_argument("--split", choices=("train", "val", "test"), default="test", help="the split the examples come from")
    parser.add_argument("--data", default=None, help="sessions to draw examples from (default: the domain's default data)")
    args = parser.parse_args()

    from nep_core.errors import NepError
    from nep_core.evaluation import load_eval_data
    from nep_core.inference import load_predictor
    from nep_core.plugins import get_domain

    domain = get_domain(args.domain)
    check_models(args.model, domain=domain.name, domain_option=True)
    check_models(args.location_model, option="--location-model", domain=domain.name, domain_option=True)
    progress("loading the examples and the models")
    evaluation = load_eval_data(domain, args.data, args.split, args.warmup + args.examples)
    if len(evaluation.examples) <= args.warmup:
        raise NepError(f"the {args.split} split holds {len(evaluation.examples)} examples, none left after --warmup {args.warmup}")
    predictors = {
        "single": load_predictor(args.model, domain),
        "two_stage": load_predictor(args.model, domain, location_model=args.location_model),
    }
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    baselines = {
        "generate_constrained_topk": generator(predictors["single"], constrained=True, top_k=args.top_k),
        "generate_greedy": generator(predictors["single"]),
    }
    outcomes, baseline_ms = timed_outcomes(predictors, domain, evaluation.examples, args.top_k, args.warmup, baselines)
    generate = {name: summary(values) for name, values in baseline_ms.items()}
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
        **generate,
        "speedup_vs_generate_single_p50": ratio(generate["generate_constrained_topk"]["p50_ms"], single["latency"]["p50_ms"]),
        "speedup_vs_generate_two_stage_p50": ratio(generate["generate_constrained_topk"]["p50_ms"], two["latency"]["p50_ms"]),
        "speedup_vs_generate_greedy_single_p50": ratio(generate["generate_greedy"]["p50_ms"], single["latency"]["p50_ms"]),
        "speedup_vs_generate_greedy_two_stage_p50": ratio(generate["generate_greedy"]["p50_ms"], two["latency"]["p50_ms"]),
        "machine": machine(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_main(main)
