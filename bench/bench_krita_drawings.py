"""A krita model against repeat-last and n-gram on real drawings (Quick, Draw! files); prints JSON.

    python bench/bench_krita_drawings.py --model runs/krita --drawings ~/quickdraw

The drawings (``.ndjson`` or sketch-rnn ``.npz`` files kept outside this repository) become sessions
through the ``quickdraw`` collector, as ``nep eval --data quickdraw:DIR`` reads them. A test split
of a few hundred drawings holds a few dozen, so the sessions are split ``--rounds`` times, each time
by another seed (by drawing, 60/40): the baselines are fitted on that round's training part and
every predictor is scored on the held-out part with ``nep eval``'s metrics. The rounds' held-out
parts overlap, so a drawing's examples can be scored in several rounds: ``distinct_held_out_examples``
counts each once. Per round (``rounds_figures``: each round's value, their median, lowest and
highest): exact match top-1, kind top-1 and location accuracy. Pooled over the rounds, every round's
held-out examples counted again (``figures_pooled``, ``examples_pooled``): those three, location
accuracy being the right 32-pixel start cell, the canvas verifier's mean Chamfer distance and IoU
(over the examples whose prediction and reference are both strokes), the median Chamfer distance,
and how often each predictor said no edit. ``--min-probability P`` scores what the docker shows with
*Hide strokes less likely than* at P. Progress goes to stderr.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    argument_parser, check_models, example_key, existing_path, machine, median, positive_int, probability, progress,
    run_main, scoring_rounds, spread,
)

PER_ROUND = ("exact_match_top1", "kind_top1", "location_accuracy")


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--model", required=True, help="a krita checkpoint folder from nep train (or a baseline: repeat-last, ngram)")
    parser.add_argument("--drawings", required=True, type=existing_path, help="a Quick, Draw! file or folder (.ndjson, .ndjson.gz, .npz)")
    parser.add_argument("--rounds", type=positive_int, default=5, help="60/40 splits scored, each by another seed")
    parser.add_argument("--min-probability", type=probability, default=0.0,
                        help="hide suggestions less likely than this, as the docker's 'Hide strokes less likely than' (nep eval --min-probability)")
    args = parser.parse_args()
    check_models(args.model, domain="krita")

    from nep_core.dataset import load_sessions
    from nep_core.errors import NepError
    from nep_core.evaluation.evaluate import run_predictor
    from nep_core.evaluation.metrics import compute_metrics
    from nep_core.inference import load_predictor, make_baseline
    from nep_core.plugins import get_domain

    domain = get_domain("krita")
    progress(f"reading {args.drawings}")
    sessions, _ = load_sessions(domain, f"quickdraw:{args.drawings}")
    if not sessions:
        raise NepError(f"no drawings NEP could read in {args.drawings} (.ndjson, .ndjson.gz or .npz Quick, Draw! files); pass another --drawings")
    model = load_predictor(args.model, domain)
    outcomes: dict[str, list] = {}
    per_round: dict[str, list[dict]] = {}
    held_out_sizes, distinct = [], set()
    for number, (_, splits, held_out) in enumerate(scoring_rounds(sessions, domain, args.rounds, 0.6)):
        progress(f"round {number + 1} of {args.rounds}: {len(held_out)} held-out examples")
        if not splits["train"] or not held_out:
            raise NepError(f"{args.drawings}: round {number + 1} has {len(splits['train'])} training and {len(held_out)} held-out "
                           f"examples; the {len(sessions)} drawings are too few to split, pass more --drawings")
        held_out_sizes.append(len(held_out))
        distinct.update(map(example_key, held_out))
        predictors = {"model": model, **{name: make_baseline(name, domain).fit(splits["train"]) for name in ("repeat-last", "ngram")}}
        for name, predictor in predictors.items():
            scored = run_predictor(predictor, domain, held_out, min_probability=args.min_probability)
            outcomes.setdefault(name, []).extend(scored)
            per_round.setdefault(name, []).append(compute_metrics(scored, domain, 3))
    figures = {}
    for name, kept in outcomes.items():
        metrics = compute_metrics(kept, domain, 3)
        chamfers = [outcome.verdicts["canvas"].details["chamfer_px"] for outcome in kept
                    if "canvas" in outcome.verdicts and "chamfer_px" in outcome.verdicts["canvas"].details]
        figures[name] = {
            "examples_pooled": len(kept),
            **{key: None if metrics[key] is None else round(metrics[key], 4) for key in PER_ROUND},
            "chamfer_px_mean": round(statistics.mean(chamfers), 1) if chamfers else None,
            "chamfer_px_median": round(median(chamfers), 1) if chamfers else None,
            "iou_mean": round(metrics["verifier.canvas.iou"], 4) if "verifier.canvas.iou" in metrics else None,
            "stroke_pairs": len(chamfers),
            "no_edit_predicted": sum(outcome.best.is_no_edit for outcome in kept),
        }
    rounds_figures = {name: {key: spread([metrics[key] for metrics in entries if metrics[key] is not None]) for key in PER_ROUND
                             if any(metrics[key] is not None for metrics in entries)} for name, entries in per_round.items()}
    print(json.dumps({
        "bench": "krita model against baselines on real drawings",
        "model": args.model,
        "drawings": args.drawings,
        "sessions": len(sessions),
        "rounds": args.rounds,
        "min_probability": args.min_probability,
        "held_out_examples_rounds": held_out_sizes,
        "distinct_held_out_examples": len(distinct),
        "rounds_figures": rounds_figures,
        "figures_pooled": figures,
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    run_main(main)
