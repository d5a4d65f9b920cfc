"""A krita model against repeat-last and n-gram on real drawings (Quick, Draw! files); prints JSON.

    python bench/bench_krita_drawings.py --model runs/krita --drawings ~/quickdraw

The drawings (``.ndjson`` or sketch-rnn ``.npz`` files kept outside this repository) become sessions
through the ``quickdraw`` collector, as ``nep eval --data quickdraw:DIR`` reads them. A test split
of a few hundred drawings holds a few dozen, so the sessions are split ``--rounds`` times, each time
by another seed (by drawing, 60/40): the baselines are fitted on that round's training part and
every predictor is scored on the held-out part with ``nep eval``'s metrics. Figures (over all
rounds): exact match top-1, kind top-1, location accuracy (the right 32-pixel start cell), the
canvas verifier's mean Chamfer distance and IoU (over the examples whose prediction and reference
are both strokes), the median Chamfer distance, and how often each predictor said no edit. ``--min-probability P`` scores
what the docker shows with *Hide strokes less likely than* at P.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a krita checkpoint folder from nep train (or a baseline: repeat-last, ngram)")
    parser.add_argument("--drawings", required=True, help="a Quick, Draw! file or folder (.ndjson, .ndjson.gz, .npz)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-probability", type=float, default=0.0,
                        help="hide suggestions less likely than this, as the docker's 'Hide strokes less likely than' (nep eval --min-probability)")
    args = parser.parse_args()

    from nep_core.dataset import load_sessions
    from nep_core.evaluation.evaluate import run_predictor
    from nep_core.evaluation.metrics import compute_metrics
    from nep_core.examples import build_examples, split_sessions
    from nep_core.inference import load_predictor, make_baseline
    from nep_core.plugins import get_domain

    domain = get_domain("krita")
    sessions, _ = load_sessions(domain, f"quickdraw:{args.drawings}")
    model = load_predictor(args.model, domain)
    outcomes: dict[str, list] = {}
    for seed in range(args.rounds):
        config = dataclasses.replace(domain.examples, seed=seed, split_fractions=(0.6, 0.2, 0.2))
        splits, _ = build_examples(split_sessions(sessions, config), domain, config)
        held_out = splits["val"] + splits["test"]
        predictors = {"model": model, **{name: make_baseline(name, domain).fit(splits["train"]) for name in ("repeat-last", "ngram")}}
        for name, predictor in predictors.items():
            outcomes.setdefault(name, []).extend(run_predictor(predictor, domain, held_out, min_probability=args.min_probability))
    figures = {}
    for name, kept in outcomes.items():
        metrics = compute_metrics(kept, domain, 3)
        chamfers = [outcome.verdicts["canvas"].details["chamfer_px"] for outcome in kept
                    if "canvas" in outcome.verdicts and "chamfer_px" in outcome.verdicts["canvas"].details]
        figures[name] = {
            "examples": len(kept),
            "exact_match_top1": round(metrics["exact_match_top1"], 4),
            "kind_top1": round(metrics["kind_top1"], 4),
            "location_accuracy": round(metrics["location_accuracy"], 4),
            "chamfer_px_mean": round(statistics.mean(chamfers), 1) if chamfers else None,
            "chamfer_px_median": round(statistics.median(chamfers), 1) if chamfers else None,
            "iou_mean": round(metrics["verifier.canvas.iou"], 4) if "verifier.canvas.iou" in metrics else None,
            "stroke_pairs": len(chamfers),
            "no_edit_predicted": sum(outcome.best.is_no_edit for outcome in kept),
        }
    print(json.dumps({
        "bench": "krita model against baselines on real drawings",
        "model": args.model,
        "drawings": args.drawings,
        "sessions": len(sessions),
        "rounds": args.rounds,
        "min_probability": args.min_probability,
        "figures": figures,
        "python": platform.python_version(),
    }, indent=2))


if __name__ == "__main__":
    main()
