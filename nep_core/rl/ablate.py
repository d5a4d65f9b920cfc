"""``nep rl --ablate``: the full bundle of RL tricks against one arm per trick switched off (or on).

Every arm is a normal ``nep rl`` run (``rl(config)`` with only the policy settings changed) in
``OUT/<arm>``, with the same steps, seed and data. The arms and the SFT checkpoint they start from are
then evaluated with ``nep eval``'s code on the same held-out examples. OUT gets ``ablation.json``,
``ablation.md`` and ``ablation.png``. A finished arm is not rerun, an interrupted one resumes, and
evaluations are kept in ``OUT/evaluations.json``, so running the same command again only completes.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from nep_core.atomic_files import write_text_atomic
from nep_core.errors import NepError
from nep_core.rl.config import PolicySettings, RLConfig

KL_BETA = 0.04
"""beta of the KL arm: TRL's default before it moved to 0."""
OVERLONG_BUFFER_SHARE = 0.25
"""The overlong arm's buffer, as a share of the longest target (the buffer lies past it: ``completion_limit``)."""


@dataclass(frozen=True)
class Trick:
    """One arm of the grid: the settings it changes, given the bundle and the rollout token limit (the
    checkpoint's longest target when the bundle has no overlong buffer)."""

    name: str
    description: str
    change: Callable[[PolicySettings, int], dict[str, Any]]


TRICKS: tuple[Trick, ...] = (
    Trick("clip-higher-off", "symmetric clip: epsilon_high = epsilon", lambda p, limit: {"epsilon_high": p.epsilon}),
    Trick("dynamic-sampling-off", "zero-signal groups kept, no refill", lambda p, limit: {"dynamic_sampling": False}),
    Trick("tis-off", "no truncated importance sampling (tis_cap None)", lambda p, limit: {"tis_cap": None}),
    Trick("scale-rewards-none", "advantages not divided by a standard deviation (Dr. GRPO)", lambda p, limit: {"scale_rewards": "none"}),
    Trick("loss-grpo", "per-sequence loss aggregation (grpo)", lambda p, limit: {"loss_type": "grpo"}),
    Trick("kl-on", f"KL to the SFT model with beta {KL_BETA} (TRL's old default)", lambda p, limit: {"beta": KL_BETA} if p.beta == 0 else {}),
    Trick("kl-off", "no KL term (beta 0)", lambda p, limit: {"beta": 0.0}),
    Trick(
        "overlong-on",
        f"soft overlong shaping over a buffer of {OVERLONG_BUFFER_SHARE:.0%} of the longest target, past it",
        lambda p, limit: {"overlong_buffer": max(1, int(limit * OVERLONG_BUFFER_SHARE))} if p.overlong_buffer is None else {},
    ),
    Trick("overlong-off", "no soft overlong shaping", lambda p, limit: {"overlong_buffer": None}),
    Trick("baseline-served", "advantages against the served decision's reward (self-critical)", lambda p, limit: {"baseline": "served"}),
    Trick("baseline-group", "advantages against the group's mean reward (GRPO)", lambda p, limit: {"baseline": "group"}),
    Trick("positive-only", "only samples better than the baseline reinforced (negative_weight 0, PSR)", lambda p, limit: {"negative_weight": 0.0} if p.negative_weight == 1.0 else {}),
    Trick("negatives-plain", "negative advantages at full weight (negative_weight 1)", lambda p, limit: {"negative_weight": 1.0}),
)
"""The tricks in table order; an arm exists for a bundle only when it changes one of its settings."""

BUNDLE = "full-bundle"
REFERENCE = "sft"
SPLIT = "test"
TRAINING_STATS = {"rl/reward": "reward", "rl/zero_signal_fraction": "zero_signal_fraction", "rl/clip_low": "clip_low", "rl/clip_high": "clip_high"}
"""Logged metric to the name under which its last-step value is reported."""
SAME_RUN_KEYS = ("domain", "model", "data", "batch_size", "seed")
"""Settings (besides the policy and learning rate) an arm's existing run must share with this ablation."""


@dataclass(frozen=True)
class Arm:
    name: str
    description: str
    changes: dict[str, Any]
    policy: PolicySettings


def ablation_arms(bundle: PolicySettings, token_limit: int) -> list[Arm]:
    """The full bundle, then one arm per trick that changes a setting of it."""
    arms = [Arm(BUNDLE, "the settings as given", {}, bundle)]
    for trick in TRICKS:
        changes = {key: value for key, value in trick.change(bundle, token_limit).items() if getattr(bundle, key) != value}
        if changes:
            arms.append(Arm(trick.name, trick.description, changes, dataclasses.replace(bundle, **changes)))
    return arms


def select_arms(arms: list[Arm], names: Sequence[str] | None) -> list[Arm]:
    """The full bundle plus the arms ``names`` picks (all when None); a name that is no arm is a NepError."""
    if names is None:
        return arms
    valid = [arm.name for arm in arms]
    for name in names:
        if name not in valid:
            known = " (it changes nothing in these settings)" if any(trick.name == name for trick in TRICKS) else ""
            raise NepError(f"--ablate-arms: no arm '{name}'{known}; valid arms for these settings: {', '.join(valid[1:])}")
    return [arm for arm in arms if arm.name == BUNDLE or arm.name in names]


def ablation_dir(config: RLConfig) -> Path:
    return Path(config.out) if config.out is not None else Path("runs") / f"{config.domain}-rl-ablation"


def ablate(config: RLConfig, arm_names: Sequence[str] | None = None, limit: int = 0) -> Path:
    """Train (or finish) every arm, evaluate each and the SFT checkpoint on the same held-out examples,
    and write ``ablation.json``, ``ablation.md`` and ``ablation.png`` into the ablation folder."""
    from nep_core.checkpoint import read_meta
    from nep_core.rl.run import completion_limit, rl
    from nep_core.training.run import _say, launched_rank

    config.validate()
    if limit < 0:
        raise NepError(f"--limit must be 0 (all) or a positive number, got {limit}")
    if config.policy.rollouts != "sample":
        raise NepError("--ablate switches the tricks of sampled rollouts, which --rollouts beam does not use; run it without --rollouts beam")
    root = ablation_dir(config)
    arms = select_arms(ablation_arms(config.policy, completion_limit(config.policy, read_meta(config.model))), arm_names)
    configs = {arm.name: dataclasses.replace(config, out=root / arm.name, policy=arm.policy, resume=False) for arm in arms}
    for arm in arms:
        arm.policy.validate()
        _check_same_run(configs[arm.name])
    say = _say(config.progress and launched_rank() == 0)
    for number, arm in enumerate(arms, start=1):
        arm_config = configs[arm.name]
        done = _finished_steps(arm_config)
        if done is not None:
            say(f"ablation arm {number}/{len(arms)} {arm.name}: finished ({done} steps), not rerun")
            continue
        arm_config.resume = _has_lightning_state(arm_config)
        say(f"ablation arm {number}/{len(arms)} {arm.name}: {'resuming' if arm_config.resume else 'training'} ({_changes_text(arm.changes)})")
        rl(arm_config)
    if launched_rank() == 0:
        write_report(config, root, arms, configs, limit, say)
    return root


def _check_same_run(config: RLConfig) -> None:
    """An arm's folder must hold a run of exactly this arm (or nothing), or its numbers would mislead."""
    from nep_core.rl.run import policy_differences, run_settings
    from nep_core.training.run_folder import RunFolder

    folder = RunFolder(config.run_dir)
    if not folder.run_file.exists():
        return
    saved, expected = folder.read_settings(), run_settings(config, config.domain)
    differing = [key for key in SAME_RUN_KEYS if saved.get(key) != expected[key]] + policy_differences(saved, expected)
    if differing:
        raise NepError(
            f"{folder.root} holds a run with other settings ({', '.join(differing)}); "
            f"rerun the ablation with the settings it was started with, or pass another --out"
        )


def _finished_steps(config: RLConfig) -> int | None:
    """The steps of the arm's exported checkpoint when it has run all ``max_steps``; None otherwise."""
    from nep_core.training.run_folder import RunFolder

    folder = config.run_dir
    steps = RunFolder(folder).exported_steps("rl")
    if steps is None or steps < config.max_steps:
        return None
    if steps > config.max_steps:
        raise NepError(f"{folder} ran {steps} steps, more than --max-steps {config.max_steps}; pass --max-steps {steps} or another --out")
    return steps


def _has_lightning_state(config: RLConfig) -> bool:
    from nep_core.training.run_folder import RunFolder

    return bool(RunFolder(config.run_dir).lightning_checkpoints())


def _changes_text(changes: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in changes.items()) or "settings as given"


def write_report(config: RLConfig, root: Path, arms: list[Arm], configs: dict[str, RLConfig], limit: int, say) -> dict:
    """Evaluate the SFT checkpoint and every arm, and write ``ablation.json``, ``.md`` and ``.png``."""
    from nep_core.checkpoint import read_meta
    from nep_core.evaluation import load_eval_data
    from nep_core.plugins import get_domain
    from nep_core.rl.plot import plot_ablation
    from nep_core.training.run_folder import RunFolder

    domain = get_domain(config.domain)
    evaluation = load_eval_data(domain, config.data, SPLIT, limit)
    examples = {"data": config.data, "split": SPLIT, "limit": limit, "examples": len(evaluation.examples),
                "split_examples": evaluation.split_examples, "sessions": evaluation.sessions}
    cache_file = root / "evaluations.json"
    cache = json.loads(cache_file.read_text(encoding="utf-8")) if cache_file.exists() else {}
    models = [(REFERENCE, Path(config.model))] + [(arm.name, configs[arm.name].run_dir) for arm in arms]
    scores = {}
    for name, path in models:
        key = {**examples, "checkpoint": str(path.resolve()), "finished": _finished_at(read_meta(path)),
               "rewards": dataclasses.asdict(config.policy.rewards)}
        if cache.get(name, {}).get("key") != key:
            say(f"ablation: evaluating {name} on {len(evaluation.examples)} {SPLIT} examples")
            cache[name] = {"key": key, "metrics": _evaluate(path, domain, evaluation.examples, config.policy.rewards)}
            _write_json(cache_file, cache)
        scores[name] = cache[name]["metrics"]

    rows = [{"arm": REFERENCE, "description": "the starting checkpoint", "changes": {}, "folder": str(config.model),
             "policy": None, "eval": scores[REFERENCE], "training": None, "logs": None}]
    for arm in arms:
        folder = RunFolder(configs[arm.name].run_dir)
        rows.append({"arm": arm.name, "description": arm.description, "changes": arm.changes, "folder": str(folder.root),
                     "policy": dataclasses.asdict(arm.policy), "eval": scores[arm.name],
                     "training": _training_stats(folder), "logs": str(folder.logs)})
    bundle_eval = scores[BUNDLE]
    for row in rows:
        row["delta_vs_bundle"] = {key: _difference(row["eval"].get(key), bundle_eval.get(key)) for key, _ in EVAL_COLUMNS}
    report = {
        "domain": domain.name,
        "model": str(config.model),
        "max_steps": config.max_steps,
        "seed": config.seed,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "bundle": dataclasses.asdict(config.policy),
        **examples,
        "rows": rows,
    }
    _write_json(root / "ablation.json", report)
    write_text_atomic(root / "ablation.md", markdown_report(report))
    plot_ablation(rows, root / "ablation.png", title=f"{domain.name} · nep rl --ablate · {config.max_steps} steps")
    return report


def _finished_at(meta: dict) -> str | None:
    return meta.get("rl", {}).get("finished") or meta.get("training", {}).get("finished")


def _evaluate(path: Path, domain, examples, weights) -> dict:
    """``nep eval``'s metrics of the checkpoint at ``path``, plus the RL reward of its served decisions."""
    from nep_core.evaluation import evaluate
    from nep_core.inference import load_predictor
    from nep_core.rl.rewards import served_reward_metric
    from nep_core.training.quiet import silence_libraries

    silence_libraries()
    return evaluate(load_predictor(str(path), domain), domain, examples, extra_metrics=(served_reward_metric(weights),))


def _training_stats(folder) -> dict:
    """The run's steps and training time (``nep.json``) and its last logged rollout statistics."""
    from nep_core.checkpoint import read_meta
    from nep_core.training.plot import read_curves

    run = read_meta(folder.root).get("rl", {})
    stats: dict[str, Any] = {"steps": run.get("steps"), "train_seconds": run.get("train_seconds")}
    for logged, points in read_curves(folder.logs, list(TRAINING_STATS)).items():
        stats[TRAINING_STATS[logged]] = points[max(points)] if points else None
    return stats


def _difference(value, bundle_value) -> float | None:
    return None if value is None or bundle_value is None else value - bundle_value


def _write_json(path: Path, payload: Any) -> None:
    from nep_core.atomic_files import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, payload)


EVAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rl_reward", "held-out reward"),
    ("exact_match_top1", "exact top-1"),
    ("no_edit_precision", "NO_EDIT precision"),
    ("no_edit_recall", "NO_EDIT recall"),
    ("validity_rate", "validity"),
)
"""Evaluation metrics of the table, shown with their difference to the full bundle."""
TRAINING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("reward", "train reward"),
    ("zero_signal_fraction", "zero-signal"),
    ("clip_low", "clip low"),
    ("clip_high", "clip high"),
    ("train_seconds", "train s"),
)
"""Training statistics of the table: the last logged step's, and the summed step time."""
TABLE_HEADERS = ("arm", "change", *(label for _, label in EVAL_COLUMNS), *(label for _, label in TRAINING_COLUMNS))
TERMINAL_HEADERS = ("arm", *(label for _, label in EVAL_COLUMNS), "train s")
"""The table printed at the end: narrow enough for a terminal (no changes, differences or rollout statistics)."""


def table_rows(report: dict, differences: bool = True) -> list[list[str]]:
    """The cells of the ablation table, one list per row of ``report["rows"]``, under ``TABLE_HEADERS``;
    with ``differences``, each held-out figure with its difference to the full bundle in brackets."""
    cells = []
    for row in report["rows"]:
        change = "starting checkpoint" if row["arm"] == REFERENCE else _changes_text(row["changes"])
        line = [row["arm"], change]
        for key, _ in EVAL_COLUMNS:
            value, delta = row["eval"].get(key), row["delta_vs_bundle"].get(key)
            text = "-" if value is None else f"{value:.3f}"
            line.append(text if not differences or row["arm"] == BUNDLE or delta is None else f"{text} ({delta:+.3f})")
        training = row["training"] or {}
        for key, _ in TRAINING_COLUMNS:
            value = training.get(key)
            line.append("-" if value is None else f"{value:.1f}" if key == "train_seconds" else f"{value:.3f}")
        cells.append(line)
    return cells


def terminal_rows(report: dict) -> list[list[str]]:
    """The cells of the printed table, under ``TERMINAL_HEADERS``: ``table_rows`` without the rest."""
    keep = [TABLE_HEADERS.index(header) for header in TERMINAL_HEADERS]
    return [[cells[index] for index in keep] for cells in table_rows(report, differences=False)]


def markdown_report(report: dict) -> str:
    """``ablation.md``: what was compared, the table, and what each arm changes."""
    lines = [
        f"# nep rl --ablate · {report['domain']}",
        "",
        f"From `{report['model']}`: {report['max_steps']} steps per arm, batch {report['batch_size']}, seed {report['seed']}, "
        f"learning rate {report['learning_rate']}. Evaluated on {report['examples']} of the {report['split_examples']} "
        f"{report['split']} examples (the same for every row); in brackets, the difference to `{BUNDLE}`. "
        "Training columns: the last step's rollout statistics and the summed step time in seconds.",
        "",
        "| " + " | ".join(TABLE_HEADERS) + " |",
        "|" + "|".join("---" if index < 2 else "---:" for index in range(len(TABLE_HEADERS))) + "|",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in table_rows(report)]
    lines += ["", "Arms:", ""]
    lines += [f"- `{row['arm']}`: {row['description']}" for row in report["rows"]]
    bundle = ", ".join(f"{key}={value}" for key, value in report["bundle"].items())
    lines += ["", f"Full bundle: {bundle}", ""]
    return "\n".join(lines)
