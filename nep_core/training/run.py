"""``train(config)``: sessions to examples to a trained checkpoint, the entry point of ``nep train``.

The flow: load sessions, split them by source, make examples, build (or reload) the tokenizer, build
the model, fit with Lightning, then on rank 0 export the Hugging Face checkpoint with ``nep.json``
and draw the loss curves. Under DDP every process runs this function; only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from nep_core.errors import NepError
from nep_core.training.config import TrainConfig


class TrainingInterrupted(NepError):
    """Training stopped early (Ctrl-C, SIGTERM); the message says how to resume."""

    exit_code = 130


@dataclass
class PreparedData:
    """Sessions and examples per split, with what the report and ``nep.json`` say about them."""

    sessions: dict[str, list]
    examples: dict[str, list]
    report: Any
    source: str
    warnings: list[str]


def launched_rank() -> int:
    """This process's global rank as the launcher set it (0 for the process a user started)."""
    for key in ("RANK", "SLURM_PROCID"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    local = os.environ.get("LOCAL_RANK", "")
    if local.isdigit():
        node = int(os.environ.get("NODE_RANK", "0") or 0)
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "0") or 0) or (int(local) + 1)
        return node * per_node + int(local)
    return 0


def prepare_data(domain, config: TrainConfig, say: Callable[[str], None]) -> PreparedData:
    """Sessions from ``config.data`` (or the domain's default dataset), split by source, as examples."""
    from nep_core.dataset import load_sessions
    from nep_core.examples import build_examples, split_sessions

    if config.data is not None and ":" not in config.data and not Path(config.data).exists():
        raise NepError(f"--data {config.data}: no such folder; make one with `nep collect --domain {domain.name} --out {config.data}`")
    sessions, read_report = load_sessions(domain, config.data, strict=False, progress=say)
    if not sessions:
        raise NepError(f"no {domain.name} sessions in {config.data or 'the default dataset'}; collect some with `nep collect`")
    by_split = split_sessions(sessions, domain.examples)
    examples, report = build_examples(by_split, domain)
    if not examples["train"]:
        raise NepError(
            f"the train split is empty ({len(by_split['train'])} of {len(sessions)} sessions, no examples); "
            f"add more sessions to {config.data or 'the data'}"
        )
    source = config.data if config.data is not None else f"default ({domain.default_source})"
    return PreparedData(by_split, examples, report, source, list(read_report.warnings))


def max_target_tokens(domain, featurizer, examples: dict[str, list]) -> int:
    """The longest target (action + EOS): the most the grammar allows, or the most the data has."""
    from nep_core.action_space import SymbolicActionSpace

    observed = max((len(featurizer.target_ids(example.target)) for split in examples.values() for example in split), default=2)
    if isinstance(domain.action_space, SymbolicActionSpace):
        grammar = max((len(spec.slots) + 2 for spec in domain.action_space.kinds), default=2)
        return max(observed, grammar)
    return observed


def resolve_precision(config: TrainConfig) -> str:
    """bf16-mixed on a GPU that has it (16-mixed on older ones), 32-true on a CPU, unless set."""
    if config.precision is not None:
        return config.precision
    import torch

    wants_gpu = config.accelerator in ("gpu", "cuda") or (config.accelerator == "auto" and torch.cuda.is_available())
    if wants_gpu and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def _uses_cpu(config: TrainConfig) -> bool:
    import torch

    return config.accelerator == "cpu" or (config.accelerator == "auto" and not torch.cuda.is_available())


def _processes_per_node(config: TrainConfig) -> int:
    devices = config.lightning_devices()
    if isinstance(devices, list):
        return len(devices)
    if isinstance(devices, int) and devices > 0:
        return devices
    return 1


def _say(enabled: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)

    return say


def train(config: TrainConfig) -> Path:
    """Train a next-edit model as ``config`` says; returns the run folder, which holds the HF checkpoint."""
    config.validate()
    from nep_core.training.quiet import silence_libraries

    silence_libraries()
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger
    from transformers import AutoTokenizer

    from nep_core.features import Featurizer
    from nep_core.model.base import check_base_model, load_base_model, load_base_tokenizer, max_positions
    from nep_core.model.config import build_model, get_preset
    from nep_core.plugins import get_domain
    from nep_core.training.callbacks import CtrlCFinishesStep, InterruptCheckpoint, SaveLastAtEnd, ValidateAtLastStep
    from nep_core.training.datamodule import NextEditDataModule, tokenize
    from nep_core.training.progress import StepProgress
    from nep_core.training.run_folder import RunFolder
    from nep_core.training.system import NextEditSystem

    rank = launched_rank()
    say = _say(rank == 0 and config.progress)
    domain = get_domain(config.domain)
    base_model = config.base_model.resolve() if config.base_model is not None else None
    preset = None if base_model is not None else get_preset(config.preset or domain.default_preset)
    base_config = check_base_model(base_model) if base_model is not None else None
    folder = RunFolder(config.run_dir)
    settings = {
        "domain": domain.name,
        "preset": preset.name if preset else None,
        "base_model": str(base_model) if base_model else None,
        "data": config.data,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "config": config.as_dict(),
    }
    resume_from: Path | None = None
    if config.resume:
        resume_from = folder.resume_checkpoint()
        folder.check_resumable(settings)
    elif rank == 0:
        folder.check_fresh()

    data = prepare_data(domain, config, say)
    for message in data.warnings[:5]:
        say(f"warning: {message}")

    if config.resume or rank != 0:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder.root))
        except Exception as error:
            raise NepError(f"{folder.root}: cannot reload the run's tokenizer ({type(error).__name__}); start a new run with another --out") from None
    else:
        tokenizer = load_base_tokenizer(base_model, domain) if base_model else domain.build_tokenizer(data.sessions["train"])
        folder.start_fresh(settings)
        tokenizer.save_pretrained(str(folder.root))

    positions = max_positions(base_config) if base_config is not None else preset.max_positions
    target_tokens = max_target_tokens(domain, Featurizer(domain, tokenizer, None), data.examples)
    context_tokens = positions - 2 - target_tokens
    if context_tokens < 1:
        raise NepError(f"targets of up to {target_tokens} tokens leave no room for context in {positions} positions; use a larger --preset")
    featurizer = Featurizer(domain, tokenizer, context_tokens)
    train_set = tokenize(data.examples["train"], featurizer)
    val_set = tokenize(data.examples["val"], featurizer)

    L.seed_everything(config.seed, verbose=False)
    model = load_base_model(base_model, tokenizer) if base_model else build_model(preset, tokenizer)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    learning_rate = config.resolved_learning_rate(preset.name if preset else None)
    system = NextEditSystem(
        model,
        learning_rate=learning_rate,
        max_steps=config.max_steps,
        warmup_steps=config.resolved_warmup_steps(),
        weight_decay=config.weight_decay,
        min_lr_ratio=config.min_lr_ratio,
    )
    datamodule = NextEditDataModule(train_set, val_set, tokenizer.pad_token_id, config.batch_size, config.seed)

    precision = resolve_precision(config)
    if _uses_cpu(config):
        torch.set_num_threads(config.threads or max(1, (os.cpu_count() or 1) // _processes_per_node(config)))
    elif torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")
    save_every = config.save_every or config.val_every
    trainer = L.Trainer(
        accelerator=config.accelerator,
        devices=config.lightning_devices(),
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=precision,
        max_steps=config.max_steps,
        max_epochs=-1,
        val_check_interval=config.val_every,
        check_val_every_n_epoch=None,
        limit_val_batches=None if val_set else 0,
        num_sanity_val_steps=0,
        gradient_clip_val=config.grad_clip,
        log_every_n_steps=min(10, config.val_every),
        logger=CSVLogger(str(folder.root), name="logs"),
        callbacks=[
            ValidateAtLastStep(),
            CtrlCFinishesStep(),
            StepProgress(every=config.val_every, live=None if config.progress else False),
            InterruptCheckpoint(folder.interrupt_checkpoint),
            SaveLastAtEnd(folder.last_checkpoint),
            ModelCheckpoint(
                dirpath=str(folder.lightning),
                every_n_train_steps=save_every,
                save_top_k=0,
                save_last=True,
                enable_version_counter=False,
            ),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        default_root_dir=str(folder.root),
    )
    if (len(train_set) + config.batch_size - 1) // config.batch_size < trainer.world_size:
        raise NepError(f"{len(train_set)} training examples make fewer batches of {config.batch_size} than {trainer.world_size} processes; lower --batch-size")
    if not val_set:
        say("warning: the validation split has no examples; no validation metrics will be reported")

    what = f"preset {preset.name}" if preset else f"base model {base_model}"
    counts = "/".join(str(len(data.sessions[split])) for split in ("train", "val", "test"))
    say(
        f"training {domain.name}: {what} ({parameters / 1e6:.2f}M parameters), sessions train/val/test {counts}, "
        f"examples {len(train_set)}/{len(val_set)}, {trainer.world_size} process(es) on {trainer.accelerator.__class__.__name__.replace('Accelerator', '').lower()}, "
        f"{precision}" + (f", resuming from {resume_from}" if resume_from else "")
    )
    started = time.perf_counter()
    try:
        trainer.fit(system, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None)
    except (SystemExit, KeyboardInterrupt):
        if trainer.interrupted:
            where = folder.interrupt_checkpoint if folder.interrupt_checkpoint.exists() else folder.last_checkpoint
            raise TrainingInterrupted(
                f"training stopped at step {trainer.global_step} of {config.max_steps}; state saved in {where}; "
                f"continue with the same command plus --resume"
            ) from None
        raise
    if not trainer.is_global_zero:
        return folder.root

    from nep_core.checkpoint import save_checkpoint
    from nep_core.sessionlog import utc_now
    from nep_core.training.plot import plot_losses
    from nep_core import __version__

    seconds = system.train_seconds
    meta = {
        "domain": domain.name,
        "plugin": domain.plugin,
        "action_space": {"name": domain.action_space.name, "version": domain.action_space.version},
        "encoder": domain.encoder.settings(),
        "preset": preset.as_dict() if preset else None,
        "base_model": str(base_model) if base_model else None,
        "parameters": parameters,
        "max_context_tokens": context_tokens,
        "max_target_tokens": target_tokens,
        "data": {
            "source": data.source,
            "sessions": {split: len(sessions) for split, sessions in data.sessions.items()},
            **data.report.as_dict(),
            "example_config": dataclasses.asdict(domain.examples),
        },
        "training": {
            "steps": trainer.global_step,
            "max_steps": config.max_steps,
            "tokens": system.tokens_seen,
            "seconds": round(seconds, 3),
            "wall_seconds_this_start": round(time.perf_counter() - started, 3),
            "tokens_per_s": round(system.tokens_seen / seconds, 1) if seconds > 0 else None,
            "train_loss": None if system.train_loss is None else round(system.train_loss, 5),
            "val_loss": _rounded(system.val_metrics.get("val_loss")),
            "batch_size": config.batch_size,
            "learning_rate": learning_rate,
            "precision": precision,
            "world_size": trainer.world_size,
            "seed": config.seed,
            "nep_version": __version__,
            "finished": utc_now(),
        },
        "metrics": {key: _rounded(value) for key, value in system.val_metrics.items()},
    }
    save_checkpoint(folder.root, model, tokenizer, meta)
    plot_losses(folder.logs, folder.loss_plot, title=f"{domain.name} · {what}")
    return folder.root


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 5)
