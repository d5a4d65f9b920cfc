"""``rl(config)``: an SFT checkpoint, the domain's sessions and verifiers to an RL-tuned checkpoint.

The same run folder, Trainer, resume and export as ``nep train`` (``nep_core.training.run``); the
system is ``RLSystem`` and the batches are prompts (examples), not token sequences.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

from nep_core.errors import NepError
from nep_core.rl.config import RLConfig

RESUME_KEYS_RL = ("domain", "model", "data", "batch_size", "seed")


class SaidOnRankZero(NepError):
    """An error every process of a multi-process run meets alike: only rank 0 prints it (``nep rl`` exits
    quietly with its status on the others)."""


def refuse_alike(message: str, rank: int) -> None:
    raise (NepError if rank == 0 else SaidOnRankZero)(message)


def rl(config: RLConfig) -> Path:
    """Fine-tune ``config.model`` by reinforcement with verifier rewards; returns the run folder."""
    from nep_core.checkpoint import load_checkpoint, read_meta
    from nep_core.plugins import get_domain
    from nep_core.training.quiet import silence_libraries
    from nep_core.training.run import (
        RunPlan, _say, check_converged, cpu_threads, describe_processes, fit, launched_rank, make_trainer, prepare_data,
        processes_per_node, report_data_warnings, resolve_precision, resume_or_check_fresh,
    )
    from nep_core.training.run_folder import RunFolder

    config.validate()
    domain = get_domain(config.domain)
    check_not_a_baseline(config.model)
    if not domain.verifiers:
        raise NepError(f"domain '{domain.name}' has no verifiers, so rollouts cannot be rewarded; nep rl needs at least one")
    meta = read_meta(config.model)
    if meta.get("domain") != domain.name:
        raise NepError(
            f"{config.model}: checkpoint is for domain '{meta.get('domain')}', not '{domain.name}'; "
            f"pass --domain {meta.get('domain')} or a {domain.name} model"
        )
    if meta.get("target", "action") != "action":
        raise NepError(
            f"{config.model}: a location model (nep train --target location) writes only where an edit goes, which the "
            "verifiers cannot judge; nep rl needs an ordinary checkpoint"
        )
    completion_limit(config.policy, meta)
    folder = RunFolder(config.run_dir)
    settings = run_settings(config, domain.name)
    rank = launched_rank()
    if config.resume and folder.run_file.exists() and "model" not in folder.read_settings():
        raise NepError(f"{folder.root} holds a `nep train` run, not an `nep rl` run; pass another --out, or resume it with `nep train --resume`")
    resume_from = resume_or_check_fresh(folder, settings, config.resume, rank, config.max_steps, RESUME_KEYS_RL, starts_from=Path(config.model))
    if config.resume:
        check_same_policy(folder, settings)
    with folder.made(rank == 0 and not config.resume):  # a run that fails before its first saved step leaves no folder
        silence_libraries()
        say = _say(rank == 0 and config.progress)
        data = prepare_data(domain, config.data, say)
        report_data_warnings(data, _say(rank == 0))  # --quiet leaves out the progress, not what was skipped
        check_batches(len(data.examples["train"]), config.batch_size, processes_per_node(config) * config.num_nodes, rank)
        loaded = load_checkpoint(config.model, expected_domain=domain.name)
        if rank == 0 and not config.resume:
            folder.start_fresh(settings)
            loaded.tokenizer.save_pretrained(str(folder.root))
        system, datamodule = build_system(config, domain, loaded, data.examples)
        precision = resolve_precision(config)
        plan = RunPlan(config, domain, None, None, None, folder, settings, resume_from, rank)
        with cpu_threads(config):
            trainer = make_trainer(config, folder, precision, validate=bool(datamodule.val_examples), log_every_n_steps=1)
            check_batches(len(datamodule.train_examples), config.batch_size, trainer.world_size, rank)  # --devices auto: known now
            show_kl_in_progress(trainer)
            policy = config.policy
            if policy.rollouts == "beam":
                objective = f"NO_EDIT and the beam's top {policy.num_generations} edits, minimum risk (sharpness {policy.risk_sharpness})"
            else:
                objective = (
                    f"groups of {policy.num_generations}, loss {policy.loss_type}, epsilon {policy.epsilon}/{policy.epsilon_high}, beta {policy.beta}, "
                    f"scale_rewards {policy.scale_rewards}, baseline {policy.baseline}, TIS cap {policy.tis_cap or 'off'}, "
                    + (f"overlong shaping over the last {policy.overlong_buffer} tokens (penalty {policy.overlong_penalty})"
                       if policy.overlong_buffer else "no overlong shaping")
                )
            say(
                f"rl {domain.name}: from {config.model}, {len(datamodule.train_examples)} prompts, {objective}, "
                f"dynamic sampling {'on' if policy.dynamic_sampling else 'off'}; reward {policy.rewards.valid} valid + {policy.rewards.match} match "
                f"({policy.rewards.match_mode}) + {policy.rewards.no_edit} NO_EDIT calibration; {describe_processes(trainer)}"
                + (f", resuming from {resume_from}" if resume_from else "")
            )
            started = time.perf_counter()
            fit(plan, trainer, _Setup(system, datamodule))
            check_converged(plan, trainer, {"train loss": getattr(system, "train_loss", None)})
            if trainer.is_global_zero:
                export(config, folder, loaded, system, trainer, precision, time.perf_counter() - started, data, datamodule, domain)
        return folder.root


def check_not_a_baseline(model: Path) -> None:
    """``--model ngram`` names a baseline, which has no weights for RL to tune."""
    from nep_core.inference.factory import is_baseline

    if not Path(model).exists() and is_baseline(str(model)):
        raise NepError(f"--model {model} is a baseline, which has no weights to tune; nep rl needs a checkpoint folder "
                       "trained by `nep train` (nep eval compares baselines)")


def check_batches(prompts: int, batch_size: int, world_size: int, rank: int) -> None:
    """Every process gets whole batches of ``batch_size`` prompts, or the run is refused, once, naming the cause."""
    from nep_core.rl.datamodule import batch_problem

    problem = batch_problem(prompts, batch_size, world_size)
    if problem:
        refuse_alike(problem, rank)


def show_kl_in_progress(trainer) -> None:
    """The progress lines of ``nep rl`` (``RLStepProgress``) add the KL to the start model when it is measured."""
    from nep_core.rl.progress import RLStepProgress
    from nep_core.training.progress import StepProgress

    for index, callback in enumerate(trainer.callbacks):
        if type(callback) is StepProgress:
            trainer.callbacks[index] = RLStepProgress.replacing(callback)


def run_settings(config: RLConfig, domain_name: str) -> dict:
    """What the run folder records in ``lightning/run.json``; a resume must match it on ``RESUME_KEYS_RL``."""
    return {
        "domain": domain_name,
        "model": str(Path(config.model).resolve()),
        "data": config.data,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "config": config.as_dict(),
    }


NOT_COMPARED = frozenset({"val_examples"})
"""Policy settings a resumed run may change: they choose what is validated, not what is trained."""


def policy_differences(saved: dict, expected: dict) -> list[str]:
    """The learning rate and policy settings (``policy.rewards.match`` ...) in which two runs' recorded
    settings differ, each as ``name was -> now``; a setting ``saved`` lacks (a run started by an
    earlier NEP, before the setting existed) is not compared, nor are settings of validation only
    (``NOT_COMPARED``), as ``nep train --resume`` takes another ``--val-every``."""
    def flat(settings: dict) -> dict:
        config = settings.get("config", {})
        items = {"learning_rate": config.get("learning_rate")}
        for key, value in (config.get("policy") or {}).items():
            if isinstance(value, dict):
                items.update({f"{key}.{inner}": value[inner] for inner in value})
            else:
                items[key] = value
        return items

    before, now = flat(saved), flat(expected)
    return [f"{key} {before[key]!r} -> {now[key]!r}" for key in now
            if key in before and key not in NOT_COMPARED and before[key] != now[key]]


def check_same_policy(folder, settings: dict) -> None:
    """A resumed run must go on with the learning rate and policy settings it was started with."""
    differing = policy_differences(folder.read_settings(), settings)
    if differing:
        raise NepError(
            f"{folder.root} was started with other settings ({'; '.join(differing)}); resume with the options it was "
            f"started with (its lightning/run.json), or start a new run with another --out"
        )


def completion_limit(policy, meta: dict) -> int:
    """The token limit of a rollout, ``L_max`` of DAPO's soft overlong punishment: ``max_completion_length``
    when given, else the checkpoint's longest target (``max_target_tokens``, with its end token) plus the
    overlong buffer. The buffer thus lies beyond every action the model was trained on: the penalty starts
    only past the longest target, as DAPO's starts past the expected length ``L_max - L_cache``."""
    longest = int(meta.get("max_target_tokens", 64))
    buffer = policy.overlong_buffer
    if policy.max_completion_length is not None:
        if buffer is not None and buffer >= policy.max_completion_length:
            raise NepError(f"overlong_buffer {buffer} must be shorter than max_completion_length {policy.max_completion_length}")
        return policy.max_completion_length
    if buffer is not None and buffer > longest:
        raise NepError(f"--overlong-buffer {buffer} is longer than the longest action the checkpoint was trained on ({longest} tokens, "
                       f"max_target_tokens in its nep.json), past which the buffer starts; pass at most --overlong-buffer {longest}")
    return longest + (buffer or 0)


class _Setup:
    """What ``training.run.fit`` reads from a setup."""

    def __init__(self, system, datamodule):
        self.system, self.datamodule = system, datamodule


def build_system(config: RLConfig, domain, loaded, examples: dict[str, list]):
    """The RLSystem around the checkpoint's model, and the prompt DataModule."""
    import lightning as L

    from nep_core.checkpoint import LoadedModel
    from nep_core.evaluation.evaluate import sample_evenly
    from nep_core.inference.decoder import DecodeSettings, ModelPredictor
    from nep_core.rl.datamodule import PromptDataModule
    from nep_core.rl.system import RLSystem

    L.seed_everything(config.seed, verbose=False)
    policy = config.policy
    max_completion_length = completion_limit(policy, loaded.meta)
    reference = None
    if policy.beta > 0:
        reference = copy.deepcopy(loaded.model).eval()
        reference.requires_grad_(False)

    # a rollout may run past the longest target by the overlong buffer: its prompts leave the positions for it
    # (the checkpoint's context fills every position a target does not take)
    longest = int(loaded.meta.get("max_target_tokens", max_completion_length))
    spare = max(0, max_completion_length - longest)
    meta = dict(loaded.meta, max_context_tokens=loaded.max_context_tokens - spare) if spare else loaded.meta
    if spare and meta["max_context_tokens"] < 1:
        raise NepError(f"--overlong-buffer {spare} leaves no room for a prompt in the model's {loaded.max_context_tokens} context tokens")

    def predictor_factory(model) -> ModelPredictor:
        return ModelPredictor(LoadedModel(model, loaded.tokenizer, meta, loaded.path), domain, DecodeSettings(reuse_prefix=False))

    model = loaded.model
    model.train()
    system = RLSystem(
        model,
        learning_rate=config.learning_rate,
        max_steps=config.max_steps,
        warmup_steps=config.resolved_warmup_steps(),
        domain=domain,
        predictor_factory=predictor_factory,
        policy=policy,
        max_completion_length=max_completion_length,
        refill=examples["train"],
        seed=config.seed,
        reference=reference,
        weight_decay=config.weight_decay,
    )
    val = sample_evenly(examples["val"], policy.val_examples) if examples["val"] else []
    return system, PromptDataModule(examples["train"], val, config.batch_size, config.seed)


def export(config: RLConfig, folder, loaded, system, trainer, precision: str, wall_seconds: float, data=None, datamodule=None, domain=None) -> None:
    """The tuned model as a checkpoint: the SFT checkpoint's ``nep.json`` (its ``data`` block is the data the
    model was trained on) plus an ``rl`` section with the data RL drew its prompts from, the validation at
    the start and at the end, and the ``rl`` section of the model it started from, if any, as ``previous``."""
    from nep_core import __version__
    from nep_core.checkpoint import save_checkpoint
    from nep_core.rl.plot import plot_rl
    from nep_core.sessionlog import utc_now

    meta = copy.deepcopy(loaded.meta)
    meta.pop("metrics", None)
    meta = {key: value for key, value in meta.items() if not key.startswith("eval_")}
    previous = meta.pop("rl", None)
    report = system.rewards.report
    meta["rl"] = {
        "start_model": str(Path(config.model).resolve()),
        "steps": trainer.global_step,
        "max_steps": config.max_steps,
        "seconds": round(system.earlier_wall_seconds + wall_seconds, 3),
        "train_seconds": round(system.train_seconds, 3),
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "precision": precision,
        "world_size": trainer.world_size,
        "seed": config.seed,
        "policy": config.as_dict()["policy"],
        "data": None if data is None else rl_data_summary(data, datamodule, domain),
        "validation": {
            "examples": system.val_examples_counted,
            "start_examples": system.start_examples if system.start_metrics else None,
            "start": rounded_metrics(system.start_metrics),
            "end": rounded_metrics(system.val_metrics) if system.val_metrics else None,
        },
        "undecodable_rollouts": report.undecodable,
        "verifier_errors": dict(report.verifier_errors),
        "nep_version": __version__,
        "finished": utc_now(),
    }
    if config.policy.beta > 0:
        meta["rl"]["kl"] = {"last": _significant(system.kl_last), "mean": _significant(system.kl_mean)}
    if previous is not None:
        meta["rl"]["previous"] = previous
    meta["metrics"] = rounded_metrics(system.val_metrics) or {}
    save_checkpoint(folder.root, system.model, loaded.tokenizer, meta)
    objective = "minimum risk over the beam" if config.policy.rollouts == "beam" else config.policy.loss_type
    plot_rl(folder.logs, folder.root / "rl.png", title=f"{meta['domain']} · nep rl · {objective}")


def rl_data_summary(data, datamodule=None, domain=None) -> dict:
    """``nep.json``'s ``rl.data``: the sessions and examples this run drew its prompts from, in the format
    of the top-level ``data`` block (docs/checkpoint.md), plus the prompts and validation examples it used."""
    import dataclasses

    summary = {
        "source": data.source,
        "sessions": {split: len(sessions) for split, sessions in data.sessions.items()},
        "warnings": len(data.warnings),
        **data.report.as_dict(),
    }
    if datamodule is not None:
        summary["prompts"] = len(datamodule.train_examples)
        summary["val_examples"] = len(datamodule.val_examples)
    if domain is not None:
        summary["example_config"] = dataclasses.asdict(domain.examples)
    return summary


def rounded_metrics(metrics: dict | None) -> dict | None:
    return None if metrics is None else {key: _round(value) for key, value in metrics.items()}


def _round(value) -> float | None:
    return None if value is None else round(float(value), 5)


def _significant(value) -> float | None:
    """Four significant digits: a KL estimate is often below 1e-5 (rounding to 5 decimals would make it 0)."""
    return None if value is None else float(f"{float(value):.4g}")
