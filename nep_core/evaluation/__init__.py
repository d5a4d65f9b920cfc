"""Evaluation: the metrics of DESIGN.md section 7 for the model and the baselines on the same examples."""

from nep_core.evaluation.evaluate import EvalData, evaluate, evaluate_all, load_eval_data, run_predictor, sample_evenly
from nep_core.evaluation.metrics import (
    STANDARD_METRICS,
    MetricContext,
    MetricFunction,
    Metrics,
    Outcome,
    compute_metrics,
    percentile,
)

__all__ = [
    "STANDARD_METRICS",
    "EvalData",
    "MetricContext",
    "MetricFunction",
    "Metrics",
    "Outcome",
    "compute_metrics",
    "evaluate",
    "evaluate_all",
    "load_eval_data",
    "percentile",
    "run_predictor",
    "sample_evenly",
]
