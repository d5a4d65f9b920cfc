"""``nep rl``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nep_core.cli.common import console, domain_option, print_table
from nep_core.cli.train import run_and_summarize
from nep_core.rl.reward_weights import RewardWeights


def command(
    domain: str = domain_option("Domain of the checkpoint (see `nep domains`); its verifiers give the rewards."),
    model: Path = typer.Option(..., "--model", "-m", help="The checkpoint folder to improve (from `nep train`)."),
    data: Optional[str] = typer.Option(
        None, "--data", help="Sessions to draw prompts from: a folder, or COLLECTOR:ARGUMENT; join sources with ' + '. Default: the domain's embedded dataset."
    ),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder for the tuned checkpoint. Default: runs/<domain>-rl."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last saved step."),
    max_steps: int = typer.Option(100, "--max-steps", help="Optimizer steps (in total, across resumes)."),
    batch_size: int = typer.Option(8, "--batch-size", "-b", help="Prompts (groups) per step."),
    num_generations: int = typer.Option(8, "--num-generations", "-G", help="Completions sampled per prompt (the group), at least 2."),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature of the rollouts."),
    rollouts: str = typer.Option(
        "sample", "--rollouts", help="sample: -G completions sampled per prompt, GRPO's clipped loss. beam: NO_EDIT and the top -G "
        "edits of the serving beam search, minimum risk training's loss (the expected reward under the candidates' renormalized "
        "probabilities), which reorders the very candidates that compete for the served top-1.",
    ),
    risk_sharpness: float = typer.Option(1.0, "--risk-sharpness", help="With --rollouts beam: alpha in softmax(alpha * log p) over the candidates; larger weighs the top-1 more."),
    lr: float = typer.Option(5e-5, "--lr", help="Learning rate (constant after a short warmup)."),
    loss_type: str = typer.Option("dapo", "--loss-type", help="grpo (per sequence), bnpo (per batch token), dr_grpo (constant normalizer) or dapo (per token of the whole batch)."),
    epsilon: float = typer.Option(0.2, "--epsilon", help="Lower clip: the ratio is clipped at 1 - epsilon."),
    epsilon_high: float = typer.Option(0.28, "--epsilon-high", help="Upper clip (clip-higher): 1 + epsilon_high. Equal to --epsilon for symmetric clipping."),
    beta: float = typer.Option(0.0, "--beta", help="KL coefficient to the starting model; 0 keeps no reference model in memory."),
    scale_rewards: str = typer.Option("group", "--scale-rewards", help="Divide advantages by the group's reward std (group), the batch's (batch), or not (none)."),
    baseline: str = typer.Option(
        "group", "--baseline", help="What each sample is compared with: the group's mean reward (group, GRPO) or the reward of "
        "the decision the predictor serves for that prompt (served: self-critical training, which pushes up only samples that beat it).",
    ),
    num_iterations: int = typer.Option(1, "--num-iterations", help="Optimizer steps per batch of rollouts (TRL's mu)."),
    guidance: bool = typer.Option(False, "--guidance/--no-guidance", help="Add the user's real next action to each group as one more, off-policy member (LUFFY's guidance)."),
    negative_weight: float = typer.Option(
        1.0, "--negative-weight", help="Weight of the push away from samples worse than the baseline: 1 the plain policy gradient, "
        "0 only samples better than it are reinforced (positive sample reinforcement).",
    ),
    negative_credit: str = typer.Option(
        "sequence", "--negative-credit", help="Which tokens of a sample worse than the baseline are pushed down: all of them (sequence), "
        "or only those from the first one where it departs from the user's real next action (divergence): a wrong setting then "
        "no longer pushes down the right operator written before it.",
    ),
    sft_weight: float = typer.Option(
        0.0, "--sft-weight", help="Add a supervised term with this weight: the negative log-likelihood per token of the user's real "
        "next action for each prompt of the batch (as InstructGPT's PPO-ptx mixes in its pretraining loss). 0 turns it off.",
    ),
    dynamic_sampling: bool = typer.Option(True, "--dynamic-sampling/--no-dynamic-sampling", help="Drop groups whose rewards are all equal and refill the batch with more prompts."),
    max_resample_rounds: int = typer.Option(4, "--max-resample-rounds", help="Refills per step at most, with dynamic sampling."),
    tis_cap: float = typer.Option(2.0, "--tis-cap", help="Truncated importance sampling cap C between the sampler's and the trainer's probabilities, at least 1; 0 turns it off."),
    mask_truncated_completions: bool = typer.Option(False, "--mask-truncated-completions", help="Leave completions cut at the length limit out of the loss."),
    overlong_buffer: int = typer.Option(
        0, "--overlong-buffer", help="Soft overlong shaping (DAPO): rollouts may run N tokens past the checkpoint's longest target, "
        "and those N tokens are penalized linearly, up to --overlong-penalty at the limit; an action as long as the longest target is not. 0 turns it off.",
    ),
    overlong_penalty: float = typer.Option(1.0, "--overlong-penalty", help="Reward subtracted at the length limit (the longest target plus --overlong-buffer)."),
    reward_valid: Optional[float] = typer.Option(
        None, "--reward-valid", help="Weight of validity (the verifiers accept the action). Default: the domain's (krita and video: 0.25; blender, code and turtle: 0; `nep domains --json` lists each domain's rl_rewards). 0 with --match-mode exact: the verifiers are not run."
    ),
    reward_match: Optional[float] = typer.Option(None, "--reward-match", help="Weight of the match with the user's real next action. Default: the domain's (1)."),
    match_mode: Optional[str] = typer.Option(
        None, "--match-mode", help="How the match is scored: verifier (the verifiers' reward, partial credit such as chrF "
        "for code) or exact (1 for exactly the user's next action, else 0: what exact match top-1 counts). Default: the domain's "
        "(blender, code and turtle: exact; krita and video: verifier).",
    ),
    reward_no_edit: Optional[float] = typer.Option(
        None, "--reward-no-edit", help="Weight of NO_EDIT calibration: +1 silent when the user did nothing predictable, -1 silent when they acted, "
        "-1 for an edit when they did nothing. Default: the domain's (krita and video: 0.25; blender, code and turtle: 0).",
    ),
    val_every: int = typer.Option(25, "--val-every", help="Validate (beam search on held-out examples) every N steps."),
    val_examples: int = typer.Option(64, "--val-examples", help="Held-out examples decoded at each validation."),
    seed: int = typer.Option(0, "--seed", help="Seed for prompt order and sampling, 0 to 4294967295."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto, cpu, gpu or mps."),
    devices: str = typer.Option("auto", "--devices", help="Devices (processes) per node."),
    precision: Optional[str] = typer.Option(None, "--precision", help="32-true, bf16-mixed or 16-mixed (not nep train's bf16-true or 64-true). Default: bf16-mixed on a GPU, 32-true on a CPU."),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads per process, 1 to 1024. Default: OMP_NUM_THREADS when it is a positive number, else the CPU cores divided among the processes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output; print only the summary."),
    ablate: bool = typer.Option(
        False, "--ablate", help="Ablation grid instead of one run: the settings as given (the full bundle), and one run per trick "
        "switched off or on (clip-higher, dynamic sampling, TIS, scale_rewards, loss type, KL, overlong shaping, baseline, negative weight), each in "
        "--out/ARM with the same steps and seed, all evaluated with the starting (supervised) model on the same test examples. Writes "
        "ablation.json, ablation.md and ablation.png in --out (default runs/<domain>-rl-ablation); run it again to finish or redraw.",
    ),
    ablate_arms: Optional[str] = typer.Option(
        None, "--ablate-arms", help="With --ablate: only these arms besides the full bundle, comma-separated: clip-higher-off, dynamic-sampling-off, "
        "tis-off, scale-rewards-none, loss-grpo, kl-on (or kl-off with --beta > 0), overlong-on (or overlong-off with --overlong-buffer), baseline-served (or baseline-group with --baseline served), positive-only (or negatives-plain with another --negative-weight).",
    ),
    limit: int = typer.Option(0, "--limit", help="With --ablate: evaluate on N test examples spread evenly over the split (0: all), as `nep eval --limit`."),
) -> None:
    """Improve a trained checkpoint by reinforcement with verifiable rewards (group-relative policy optimization).

    For each prompt (a point in a training session where a suggestion could be asked for, with what the user did next), NEP samples a group of actions with the
    same constrained decoder that serves users, scores each with the domain's verifiers (valid, match
    with what the user really did next, NO_EDIT calibration), and pushes the model towards the
    better-than-average ones. Options keep TRL's names and defaults; docs/rl.md gives every formula.
    The run folder gets the tuned checkpoint, Lightning state for --resume, CSV logs and rl.png.

    Examples:

      nep rl --domain code --model runs/code --max-steps 40

      nep rl --domain blender --model runs/blender --loss-type grpo --epsilon-high 0.2 --no-dynamic-sampling

      nep eval --domain code --model runs/code-rl --compare runs/code --baselines

      nep rl --domain code --model runs/code --max-steps 40 --ablate --limit 400

      nep rl --domain code --model runs/code --max-steps 40 --ablate --ablate-arms loss-grpo,kl-on --limit 400
    """
    from nep_core.errors import NepError
    from nep_core.rl.config import PolicySettings, RLConfig
    from nep_core.rl.run import rl

    policy = PolicySettings(
        num_generations=num_generations,
        temperature=temperature,
        rollouts=rollouts,
        risk_sharpness=risk_sharpness,
        loss_type=loss_type,
        epsilon=epsilon,
        epsilon_high=epsilon_high,
        beta=beta,
        scale_rewards=scale_rewards,
        baseline=baseline,
        num_iterations=num_iterations,
        dynamic_sampling=dynamic_sampling,
        guidance=guidance,
        negative_weight=negative_weight,
        negative_credit=negative_credit,
        sft_weight=sft_weight,
        max_resample_rounds=max_resample_rounds,
        tis_cap=tis_cap or None,
        mask_truncated_completions=mask_truncated_completions,
        overlong_buffer=overlong_buffer or None,
        overlong_penalty=overlong_penalty,
        rewards=domain_rewards(domain).overridden(valid=reward_valid, match=reward_match, no_edit=reward_no_edit, match_mode=match_mode),
        val_examples=val_examples,
    )
    config = RLConfig(
        domain=domain, data=data, out=out, model=model, max_steps=max_steps, batch_size=batch_size, learning_rate=lr,
        val_every=val_every, resume=resume, seed=seed, accelerator=accelerator, devices=devices, precision=precision,
        threads=threads, progress=not quiet, policy=policy,
    )
    if not ablate:
        for given, option in ((ablate_arms is not None, "--ablate-arms"), (limit != 0, "--limit")):
            if given:
                raise NepError(f"{option} applies only with --ablate")
        quietly_on_other_ranks(lambda: run_and_summarize(rl, config, lambda folder: print_summary(folder, data)))
        return
    from nep_core.rl.ablate import ablate as run_ablation

    arms = None if ablate_arms is None else [name.strip() for name in ablate_arms.split(",") if name.strip()]
    if arms == []:
        raise NepError(f"--ablate-arms {ablate_arms!r} names no arm; pass arm names separated by commas, or leave it out for every arm")
    quietly_on_other_ranks(lambda: run_and_summarize(lambda settings: run_ablation(settings, arms, limit), config, print_ablation))


def quietly_on_other_ranks(run) -> None:
    """``run()``; an error every process meets alike (``SaidOnRankZero``) is printed by rank 0 alone."""
    from nep_core.rl.run import SaidOnRankZero

    try:
        run()
    except SaidOnRankZero as error:
        raise typer.Exit(error.exit_code) from None


def domain_rewards(name: str) -> RewardWeights:
    """The reward weights domain ``name`` declares; the core's defaults when it is not installed (the run then says so)."""
    from nep_core.plugins import domains

    domain = domains().get(name)
    return RewardWeights() if domain is None else domain.rl_rewards


VALIDATION_ORDER = ("val_reward", "val_exact_match", "val_no_edit_precision", "val_no_edit_recall")


def describe_validation(run: dict, metrics: dict) -> str | None:
    """``validation (64 examples), step 0 -> 50: reward 0.950 -> 1.059 · exact match ...`` (``-`` for a
    metric that is undefined, such as NO_EDIT precision when nothing was predicted NO_EDIT); the end alone
    when the start was not measured (a run resumed from an earlier NEP's checkpoint)."""
    validation = run.get("validation") or {}
    end = validation.get("end") or metrics
    start = validation.get("start")
    if not end:
        return None

    def shown(value) -> str:
        return "-" if value is None else f"{value:.3f}"

    keys = [key for key in VALIDATION_ORDER if key in end] + [key for key in end if key not in VALIDATION_ORDER]
    parts = []
    for key in keys:
        name = key.removeprefix("val_").replace("_", " ")
        parts.append(f"{name} {shown(start.get(key))} -> {shown(end[key])}" if start else f"{name} {shown(end[key])}")
    examples, start_examples = validation.get("examples"), validation.get("start_examples")
    where = f" ({examples} examples)" if examples else ""
    if start and start_examples and examples and start_examples != examples:  # a resume with another --val-examples
        where = f" ({start_examples} examples at the start, {examples} at the end: not one set)"
    steps = f", step 0 -> {run.get('steps')}" if start else ""
    return f"validation{where}{steps}: " + " · ".join(parts)


def print_summary(folder: Path, data: str | None = None) -> None:
    """Where the tuned checkpoint is, the validation metrics at the start and at the end, the KL to the start
    model (with ``--beta``), and how many rollouts were invalid; the ``next:`` command evaluates on the same
    ``data`` (``--data``) as the tuning used."""
    import shlex

    from nep_core.checkpoint import read_meta

    meta = read_meta(folder)
    run, metrics = meta.get("rl", {}), meta.get("metrics", {})
    console.print(f"rl {meta['domain']}: {run.get('steps')} steps in {run.get('seconds', 0):.0f}s from {run.get('start_model')}", soft_wrap=True)
    validation = describe_validation(run, {key: value for key, value in metrics.items() if key.startswith("val_")})
    if validation:
        console.print(validation, soft_wrap=True)
    kl = run.get("kl")
    if kl and kl.get("last") is not None:
        console.print(f"KL to the start model (beta {run.get('policy', {}).get('beta')}): {kl['last']:.3g} at the last step, "
                      f"{kl['mean']:.3g} on average", soft_wrap=True)
    if run.get("undecodable_rollouts") or run.get("verifier_errors"):
        errors = sum(run.get("verifier_errors", {}).values())
        console.print(f"rollouts scored as invalid: {run.get('undecodable_rollouts', 0)} undecodable, {errors} verifier errors (see nep.json)", soft_wrap=True)
    console.print(f"checkpoint: {folder} (plots {folder / 'rl.png'}, logs {folder / 'logs'})", soft_wrap=True)
    same_data = f" --data {shlex.quote(data)}" if data is not None else ""
    console.print(f"next: nep eval --domain {meta['domain']} --model {folder}{same_data} --compare {run.get('start_model')} --baselines",
                  soft_wrap=True)


def print_ablation(folder: Path) -> None:
    """The ablation's main figures, and where the whole table (ablation.md) and the other files are."""
    import json

    from rich.table import Table

    from nep_core.rl.ablate import TERMINAL_HEADERS, terminal_rows

    report = json.loads((folder / "ablation.json").read_text(encoding="utf-8"))
    table = Table(title=f"nep rl --ablate · {report['domain']} · {report['max_steps']} steps · {report['examples']} {report['split']} examples")
    rows = terminal_rows(report)
    table.add_column(TERMINAL_HEADERS[0], no_wrap=True, min_width=max(len(cells[0]) for cells in rows))
    for header in TERMINAL_HEADERS[1:]:
        table.add_column(header, justify="right")
    for cells in rows:
        table.add_row(*cells)
    print_table(console, table)
    console.print(f"with differences to full-bundle, changes and rollout statistics: {folder / 'ablation.md'}; also {folder / 'ablation.json'}, {folder / 'ablation.png'}", soft_wrap=True)
