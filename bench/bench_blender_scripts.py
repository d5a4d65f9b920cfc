"""Operator top-1 of a blender model against repeat-last and n-gram on real scripts; prints JSON.

    python bench/bench_blender_scripts.py --model runs/blender --scripts ~/blender-scripts
    python bench/bench_blender_scripts.py --model runs/seed0 --model runs/seed1 --model runs/seed2 --scripts ~/blender-scripts

The scripts (a folder of ``.py`` files kept outside this repository) become sessions through the
``scripts`` collector, which keeps the scripts of each top-level folder (one repository) in one
split group when DIR holds ten or more; pass ``--scripts 'DIR?group=file'`` to split file by file.
A single split of a few dozen scripts is noisy, so the sessions are split ``--rounds`` times, each
time by another seed (by those groups, 60/40, or ``--train-share 0.8`` for the 80/20 that
``nep eval``'s 80/10/10 gives the n-gram): the baselines are fitted on that round's training
part, as ``nep eval --baselines`` fits them, and every predictor is scored on the held-out part.
The rounds' held-out parts overlap, so an example can be scored in several rounds. Figures per
predictor: operator top-1 (``kind top-1`` of ``nep eval``) in each round with their median, lowest
and highest (``operator_top1_rounds``; ``ratio_model_to_best_baseline_rounds`` likewise), and the
number of distinct held-out examples (``distinct_held_out_examples``); pooled over the rounds, every
round's held-out examples counted again (``examples_pooled``): operator top-1, its ratio to the best
baseline, and the same where an edit follows (NO_EDIT-free examples). With
``--fine-tune-steps N`` the model is also fine-tuned on each round's training part (``nep train
--base-model``) and scored as "model fine-tuned". ``--model`` given several times (one training run
per seed) scores every model on the same rounds, each named "model FOLDER", with their mean.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    argument_parser, check_models, example_key, existing_path, machine, non_negative_int, positive_int, probability, progress,
    run_main, scoring_rounds, spread,
)


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--model", required=True, action="append",
        help="a blender checkpoint folder from nep train; repeat it to score several (training seeds) on the same rounds",
    )
    parser.add_argument("--scripts", required=True, type=existing_path, help="a folder (or a .zip) of Blender Python scripts, ?group=file to split file by file")
    parser.add_argument("--rounds", type=positive_int, default=5, help="splits scored, each by another seed")
    parser.add_argument(
        "--train-share", type=float, default=0.6,
        help="share of the sessions (by split group) each round fits the baselines on; the rest is held out",
    )
    parser.add_argument(
        "--fine-tune-steps", type=non_negative_int, default=0,
        help="also fine-tune --model on each round's training scripts for this many steps (nep train --base-model)",
    )
    parser.add_argument("--fine-tune-lr", type=float, default=None, help="its learning rate (default: nep train's for a base model)")
    parser.add_argument(
        "--min-confidence", type=probability, default=None,
        help="score what the add-on shows, as nep eval does: a top-1 below this counts as no edit (default: the domain's, the add-on's 0.1; 0: every suggestion)",
    )
    args = parser.parse_args()
    if not 0 < args.train_share < 1:
        parser.error(f"--train-share must be between 0 and 1, got {args.train_share}")
    if args.fine_tune_steps and len(args.model) > 1:
        parser.error("--fine-tune-steps takes one --model")
    check_models(*args.model, domain="blender")
    folder_names = [Path(path).name for path in args.model]
    names = ["model"] if len(args.model) == 1 else [f"model {n if folder_names.count(n) == 1 else p}" for n, p in zip(folder_names, args.model)]

    from nep_core.dataset import load_sessions
    from nep_core.errors import NepError
    from nep_core.inference import load_predictor, make_baseline
    from nep_core.plugins import get_domain

    domain = get_domain("blender")
    floor = domain.min_confidence if args.min_confidence is None else args.min_confidence
    progress(f"reading {args.scripts}")
    sessions, _ = load_sessions(domain, f"scripts:{args.scripts}")
    if not sessions:
        raise NepError(f"no scripts NEP could read in {args.scripts} (a function or module with two bpy.ops calls or more); pass another --scripts")
    models = {name: load_predictor(path, domain) for name, path in zip(names, args.model)}
    rounds: list[dict[str, tuple[int, int]]] = []  # per round, per predictor: (right, right where an edit follows)
    held_out_sizes, edit_sizes, distinct = [], [], set()
    for number, (by_split, splits, held_out) in enumerate(scoring_rounds(sessions, domain, args.rounds, args.train_share)):
        progress(f"round {number + 1} of {args.rounds}: {len(held_out)} held-out examples")
        if not splits["train"] or not held_out:
            raise NepError(f"{args.scripts}: round {number + 1} has {len(splits['train'])} training and {len(held_out)} held-out "
                           f"examples; the {len(sessions)} sessions of these scripts are too few to split, pass more --scripts")
        predictors = dict(models)
        if args.fine_tune_steps:
            predictors["model fine-tuned"] = fine_tuned(args.model[0], domain, by_split["train"], args.fine_tune_steps, args.fine_tune_lr)
        predictors.update({name: make_baseline(name, domain).fit(splits["train"]) for name in ("repeat-last", "ngram")})
        held_out_sizes.append(len(held_out))
        edit_sizes.append(sum(not example.target.is_no_edit for example in held_out))
        distinct.update(map(example_key, held_out))
        scores = {}
        for name, predictor in predictors.items():
            right = [predictor.predict(example.context, k=1).shown(floor).best.kind == example.target.kind for example in held_out]
            scores[name] = (sum(right), sum(hit and not example.target.is_no_edit for hit, example in zip(right, held_out)))
        rounds.append(scores)
    examples, edit_examples = sum(held_out_sizes), sum(edit_sizes)
    top1 = {name: round(sum(scores[name][0] for scores in rounds) / max(examples, 1), 4) for name in rounds[0]}
    edit_top1 = {name: round(sum(scores[name][1] for scores in rounds) / max(edit_examples, 1), 4) for name in rounds[0]}
    ratios = model_ratios(top1, names)
    per_round = [{name: right / max(size, 1) for name, (right, _) in scores.items()} for scores, size in zip(rounds, held_out_sizes)]
    ratio_rounds = [model_ratios(shares, names) for shares in per_round]
    print(json.dumps({
        "bench": "blender operator top-1 on real scripts",
        "model": args.model[0] if len(args.model) == 1 else args.model,
        "scripts": args.scripts,
        "sessions": len(sessions),
        "split_groups": len({session.source for session in sessions}),
        "rounds": args.rounds,
        "train_share": args.train_share,
        "min_confidence": floor,
        "held_out_examples_rounds": held_out_sizes,
        "distinct_held_out_examples": len(distinct),
        "operator_top1_rounds": {name: spread([shares[name] for shares in per_round]) for name in rounds[0]},
        "ratio_model_to_best_baseline_rounds": {name: spread([entry[name] for entry in ratio_rounds if entry[name] is not None], 3)
                                                for name in names if any(entry[name] is not None for entry in ratio_rounds)},
        "examples_pooled": examples,
        "operator_top1_pooled": top1,
        "operator_top1_when_an_edit_follows_pooled": edit_top1,
        "operator_top1_model_mean_pooled": round(sum(top1[name] for name in names) / len(names), 4),
        "ratio_model_to_best_baseline_pooled": ratios["model"] if len(names) == 1 else ratios,
        "fine_tune_steps": args.fine_tune_steps,
        "fine_tune_lr": args.fine_tune_lr,
        "machine": machine(),
    }, indent=2))


def model_ratios(top1: dict[str, float], names: list[str]) -> dict[str, float | None]:
    """Each model's operator top-1 over the best baseline's (None when no baseline gets one right)."""
    best_baseline = max(value for name, value in top1.items() if not name.startswith("model"))
    return {name: round(top1[name] / best_baseline, 3) if best_baseline else None for name in names}


def fine_tuned(model: str, domain, train_sessions, steps: int, learning_rate: float | None):
    """``model`` fine-tuned on ``train_sessions`` as a user would: ``nep train --base-model MODEL --data LOGS``."""
    import shutil
    import tempfile

    from nep_core.inference import load_predictor
    from nep_core.sessionlog import write_sessions
    from nep_core.training.config import TrainConfig
    from nep_core.training.run import train

    work = Path(tempfile.mkdtemp(prefix="nep-bench-"))
    try:
        write_sessions(work / "logs", train_sessions)
        config = TrainConfig(
            domain=domain.name, data=str(work / "logs"), out=work / "run", base_model=Path(model),
            max_steps=steps, learning_rate=learning_rate, progress=False,
        )
        return load_predictor(str(train(config)), domain)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
