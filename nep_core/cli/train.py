"""``nep train``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import typer

from nep_core.cli.common import console, domain_option, err_console


def command(
    domain: str = domain_option("Domain to train (see `nep domains`)."),
    data: Optional[str] = typer.Option(
        None,
        "--data",
        help="A folder of session logs, or COLLECTOR:ARGUMENT (e.g. synthetic:500); join sources with ' + ' (data/mine + synthetic:500). Default: the domain's embedded dataset.",
    ),
    preset: Optional[str] = typer.Option(
        None, "--preset", "-p", help="Model size: tiny, small, base or large. Default: the domain's preset (see `nep domains --json`)."
    ),
    max_steps: Optional[int] = typer.Option(
        None, "--max-steps", help="Optimizer steps to train for (in total, across resumes); default: the domain's (`nep domains --json` lists default_max_steps; 1000 where it is null)."
    ),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder; the checkpoint is written there. Default: runs/<domain>."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last saved step."),
    base_model: Optional[str] = typer.Option(  # a str: Typer reads an empty --base-model "" as the current folder
        None, "--base-model", metavar="PATH", help="Fine-tune this local Hugging Face model folder instead of a fresh --preset model."
    ),
    batch_size: int = typer.Option(32, "--batch-size", "-b", help="Examples per step and per process."),
    lr: Optional[float] = typer.Option(
        None, "--lr", help="Peak learning rate (warmup, then cosine decay). Default: 2e-3 tiny, 1e-3 small, 5e-4 base, 3e-4 large, 1e-4 base model."
    ),
    val_every: int = typer.Option(100, "--val-every", help="Validate (and log val loss/accuracy) every N steps."),
    val_examples: int = typer.Option(
        1024, "--val-examples", help="Validate on this many examples, spread over the validation split (0: all of it)."
    ),
    save_every: Optional[int] = typer.Option(None, "--save-every", help="Save a resumable checkpoint every N steps. Default: --val-every."),
    seed: int = typer.Option(0, "--seed", help="Seed for model initialization and batch order, 0 to 4294967295."),
    accelerator: str = typer.Option("auto", "--accelerator", help="auto, cpu, gpu or mps. auto picks a GPU when there is one."),
    devices: str = typer.Option("auto", "--devices", help="Devices (processes) per node: auto, a count like 2, -1 for all, or a list like 0,1."),
    num_nodes: int = typer.Option(1, "--num-nodes", help="Machines taking part in distributed training."),
    strategy: str = typer.Option("auto", "--strategy", help="Lightning strategy: auto, ddp, fsdp, deepspeed..."),
    precision: Optional[str] = typer.Option(
        None, "--precision", help="32-true, bf16-mixed, 16-mixed, bf16-true or 64-true. Default: bf16-mixed on a GPU, 32-true on a CPU."
    ),
    threads: Optional[int] = typer.Option(
        None, "--threads", help="CPU threads per process, 1 to 1024. Default: OMP_NUM_THREADS when it is a positive number, else the CPU cores divided among the processes."
    ),
    target: str = typer.Option(
        "action",
        "--target",
        help="What the model learns to write: the whole action, or only its location (a location model for two-stage prediction, see docs/serving.md).",
    ),
    prompt_loss_weight: Optional[float] = typer.Option(
        None,
        "--prompt-loss-weight",
        help="Also learn the prompt's own tokens (the history as a sequence of actions), with this weight beside the target's loss. Default: the domain's (see `nep domains --json`); 0 learns the target only.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output; print only warnings and the summary."),
) -> None:
    """Train a next-edit model on a domain's sessions and write a Hugging Face checkpoint.

    The run folder (--out) gets the checkpoint itself (config.json, model.safetensors,
    tokenizer.json, nep.json), resumable Lightning checkpoints in lightning/, CSV logs in logs/ and
    loss.png. Ctrl-C finishes the current step, saves, and stops; add --resume to the same command
    to continue. The loss covers the target action (and, with --prompt-loss-weight, the prompt's tokens).

    Examples:

      nep train --domain blender --max-steps 500

      nep train --domain blender --data data/blender --preset small --out runs/blender

      nep train --domain code --accelerator cpu --devices 2 --strategy ddp

      nep train --domain code --target location --out runs/code-location
    """
    from nep_core.training.config import TrainConfig
    from nep_core.training.run import train

    config = TrainConfig(
        domain=domain,
        data=data,
        out=out,
        preset=preset,
        base_model=base_model,
        max_steps=max_steps,
        batch_size=batch_size,
        learning_rate=lr,
        val_every=val_every,
        val_examples=val_examples,
        save_every=save_every,
        resume=resume,
        seed=seed,
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=precision,
        threads=threads,
        progress=not quiet,
        target=target,
        prompt_loss_weight=prompt_loss_weight,
    )
    run_and_summarize(train, config, lambda folder: print_summary(folder, data))


def run_and_summarize(run: Callable[[Any], Path], config: Any, summary: Callable[[Path], None]) -> None:
    """``run(config)``; an interruption says how to resume and exits 130 (a SIGTERM before training, too, stops as
    a Ctrl-C does); a ``--resume`` of a finished run says there is nothing to do in one line and exits 0; rank 0
    prints ``summary``."""
    from nep_core.training.run import AlreadyTrained, SigtermAsCtrlC, TrainingInterrupted, launched_rank

    try:
        with SigtermAsCtrlC.installed():
            folder = run(config)
    except TrainingInterrupted as stopped:
        if launched_rank() == 0:
            err_console.print(f"[yellow]interrupted:[/yellow] {stopped}", markup=True, soft_wrap=True, highlight=False)
        raise typer.Exit(stopped.exit_code) from None
    except AlreadyTrained as finished:
        if launched_rank() == 0:
            console.print(str(finished), markup=False, soft_wrap=True, highlight=False)
        raise typer.Exit(finished.exit_code) from None
    if launched_rank() == 0:
        summary(folder)


def print_summary(folder: Path, data: str | None = None) -> None:
    """Where the checkpoint is, how long training took, and the validation metrics; the ``next:`` command
    evaluates on the same ``data`` (``--data``) as training used (its test split), not the default data."""
    import shlex
    from nep_core.checkpoint import read_meta

    meta = read_meta(folder)
    run = meta.get("training", {})
    metrics = meta.get("metrics", {})
    model = f"preset {meta['preset']['name']}" if meta.get("preset") else f"base model {meta.get('base_model')}"
    rate = run.get("tokens_per_s")
    console.print(
        f"trained {meta['domain']} ({model}, {meta.get('parameters', 0) / 1e6:.2f}M parameters): "
        f"{run.get('steps')} steps, {run.get('tokens', 0):,} tokens in {run.get('seconds', 0):.0f}s"
        + (f" ({rate:,.0f} tokens/s)" if rate else ""),
        soft_wrap=True,
    )
    if metrics.get("val_loss") is not None:
        console.print(
            f"validation: loss {metrics['val_loss']:.4f} · token accuracy {metrics.get('val_token_accuracy', 0):.3f} "
            f"· exact match {metrics.get('val_exact_match', 0):.3f}",
            soft_wrap=True,
        )
    console.print(f"checkpoint: {folder} (loss curve {folder / 'loss.png'}, logs {folder / 'logs'})", soft_wrap=True)
    same_data = f" --data {shlex.quote(data)}" if data is not None else ""
    if meta.get("target") == "location":
        console.print(f"next: nep eval --domain {meta['domain']} --model EDIT_MODEL --location-model {folder}{same_data}", soft_wrap=True)
    else:
        console.print(f"next: nep eval --domain {meta['domain']} --model {folder}{same_data} --baselines", soft_wrap=True)
