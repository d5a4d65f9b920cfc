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
Figures: operator top-1 (``kind top-1`` of ``nep eval``) over all rounds, per predictor, and its
ratio to the best baseline; the same for NO_EDIT-free examples. With
``--fine-tune-steps N`` the model is also fine-tuned on each round's training part (``nep train
--base-model``) and scored as "model fine-tuned". ``--model`` given several times (one training run
per seed) scores every model on the same rounds, each named "model FOLDER", with their mean.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", required=True, action="append",
        help="a blender checkpoint folder from nep train; repeat it to score several (training seeds) on the same rounds",
    )
    parser.add_argument("--scripts", required=True, help="a folder (or a .zip) of Blender Python scripts")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--train-share", type=float, default=0.6,
        help="share of the sessions (by split group) each round fits the baselines on; the rest is held out",
    )
    parser.add_argument(
        "--fine-tune-steps", type=int, default=0,
        help="also fine-tune --model on each round's training scripts for this many steps (nep train --base-model)",
    )
    parser.add_argument("--fine-tune-lr", type=float, default=None, help="its learning rate (default: nep train's for a base model)")
    parser.add_argument(
        "--min-confidence", type=float, default=None,
        help="score what the add-on shows, as nep eval does: a top-1 below this counts as no edit (default: the domain's, the add-on's 0.1; 0: every suggestion)",
    )
    args = parser.parse_args()
    if not 0 < args.train_share < 1:
        parser.error(f"--train-share must be between 0 and 1, got {args.train_share}")
    if args.fine_tune_steps and len(args.model) > 1:
        parser.error("--fine-tune-steps takes one --model")
    folder_names = [Path(path).name for path in args.model]
    names = ["model"] if len(args.model) == 1 else [f"model {n if folder_names.count(n) == 1 else p}" for n, p in zip(folder_names, args.model)]

    from nep_core.dataset import load_sessions
    from nep_core.examples import build_examples, split_sessions
    from nep_core.inference import load_predictor, make_baseline
    from nep_core.plugins import get_domain

    domain = get_domain("blender")
    floor = domain.min_confidence if args.min_confidence is None else args.min_confidence
    sessions, _ = load_sessions(domain, f"scripts:{args.scripts}")
    models = {name: load_predictor(path, domain) for name, path in zip(names, args.model)}
    hits: dict[str, int] = {}
    edit_hits: dict[str, int] = {}
    examples = edit_examples = 0
    for seed in range(args.rounds):
        held_out_share = (1 - args.train_share) / 2
        config = dataclasses.replace(domain.examples, seed=seed, split_fractions=(args.train_share, held_out_share, held_out_share))
        by_split = split_sessions(sessions, config)
        splits, _ = build_examples(by_split, domain, config)
        held_out = splits["val"] + splits["test"]
        predictors = dict(models)
        if args.fine_tune_steps:
            predictors["model fine-tuned"] = fine_tuned(args.model[0], domain, by_split["train"], args.fine_tune_steps, args.fine_tune_lr)
        predictors.update({name: make_baseline(name, domain).fit(splits["train"]) for name in ("repeat-last", "ngram")})
        examples += len(held_out)
        edit_examples += sum(not example.target.is_no_edit for example in held_out)
        for name, predictor in predictors.items():
            for example in held_out:
                right = predictor.predict(example.context, k=1).shown(floor).best.kind == example.target.kind
                hits[name] = hits.get(name, 0) + right
                edit_hits[name] = edit_hits.get(name, 0) + (right and not example.target.is_no_edit)
    top1 = {name: round(count / examples, 4) for name, count in hits.items()}
    edit_top1 = {name: round(count / max(edit_examples, 1), 4) for name, count in edit_hits.items()}
    best_baseline = max(value for name, value in top1.items() if not name.startswith("model"))
    ratios = {name: round(top1[name] / best_baseline, 3) if best_baseline else None for name in names}
    print(json.dumps({
        "bench": "blender operator top-1 on real scripts",
        "model": args.model[0] if len(args.model) == 1 else args.model,
        "scripts": args.scripts,
        "sessions": len(sessions),
        "split_groups": len({session.source for session in sessions}),
        "rounds": args.rounds,
        "train_share": args.train_share,
        "min_confidence": floor,
        "examples": examples,
        "operator_top1": top1,
        "operator_top1_when_an_edit_follows": edit_top1,
        "operator_top1_model_mean": round(sum(top1[name] for name in names) / len(names), 4),
        "ratio_model_to_best_baseline": ratios["model"] if len(names) == 1 else ratios,
        "fine_tune_steps": args.fine_tune_steps,
        "fine_tune_lr": args.fine_tune_lr,
        "python": platform.python_version(),
    }, indent=2))


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
    main()
