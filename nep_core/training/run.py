"""``train(config)``: sessions to examples to a trained checkpoint, the entry point of ``nep train``.

The steps: check the settings (cheap, before the data is read, so mistakes fail fast), load and split the
sessions, build or reload the tokenizer, build the model, fit with Lightning, then on rank 0 export
the Hugging Face checkpoint with ``nep.json`` and draw the loss curves. Under DDP every process runs
this function (Lightning starts the others with the same command line); only rank 0 writes the export.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from nep_core.errors import NepError, first_line
from nep_core.model.base import LOCAL_ONLY
from nep_core.model.config import ModelConfig
from nep_core.training.config import TrainConfig
from nep_core.training.run_folder import RunFolder


class TrainingInterrupted(NepError):
    """Training stopped early (Ctrl-C, SIGTERM); the message says how to resume."""

    exit_code = 130


class SigtermAsCtrlC:
    """A SIGTERM handler that stops ``nep train`` and ``nep rl`` as a Ctrl-C does (KeyboardInterrupt: ``interrupted``,
    status 130) while the data is read and the model built. During the fit Lightning puts its own handler first (it
    finishes the step and saves) and calls this one after it, which then does nothing; a forked process (a worker of
    the data reader's pool) that inherited it stops as by default."""

    def __init__(self) -> None:
        self.process = os.getpid()

    def __call__(self, signum: int, frame: Any) -> None:
        import signal

        if os.getpid() != self.process:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        elif signal.getsignal(signum) is self:
            raise KeyboardInterrupt

    @classmethod
    @contextmanager
    def installed(cls) -> Iterator[None]:
        """SIGTERM answered by this handler within the block, by the one before after it (in the main thread only, where handlers are set)."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGTERM, cls())
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)


class AlreadyTrained(NepError):
    """``--resume`` of a run that has trained all its ``--max-steps`` and exported its model: there is
    nothing to do, and nothing is written. Not a failure (status 0): ``nep train`` and ``nep rl`` print
    the message as their result."""

    exit_code = 0


@dataclass
class RunPlan:
    """What the settings resolve to: the domain, the model source, the folder, where to resume from."""

    config: TrainConfig
    domain: Any
    preset: ModelConfig | None
    base_model: Path | None
    base_config: dict | None
    folder: RunFolder
    settings: dict[str, Any]
    resume_from: Path | None
    rank: int
    base_tokenizer: Any = None  # the base model's tokenizer with the domain's tokens, loaded while it was checked

    @property
    def model_label(self) -> str:
        return f"preset {self.preset.name}" if self.preset else f"base model {self.base_model}"

    @property
    def max_positions(self) -> int:
        from nep_core.model.base import max_positions

        return max_positions(self.base_config) if self.base_config is not None else self.preset.max_positions


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


def plan_run(config: TrainConfig) -> RunPlan:
    """Check every setting that can be checked before the data is read, without torch but for a ``--base-model``
    (its config, weight shapes and tokenizer: no weights are loaded); raises NepError with the fix."""
    from nep_core.model.base import check_base_model
    from nep_core.model.config import get_preset
    from nep_core.plugins import get_domain

    config.validate()
    domain = get_domain(config.domain)
    if config.max_steps is None:
        from nep_core.training.config import DEFAULT_MAX_STEPS

        config.max_steps = domain.default_max_steps or DEFAULT_MAX_STEPS
    if config.prompt_loss_weight is None:
        config.prompt_loss_weight = domain.prompt_loss_weight
    base_model = config.base_model.resolve() if config.base_model is not None else None
    preset = None if base_model is not None else get_preset(config.preset or domain.default_preset)
    if config.data is not None:
        check_data_source(domain, config.data)
    folder = RunFolder(config.run_dir)
    settings = {
        "domain": domain.name,
        "preset": preset.name if preset else None,
        "base_model": str(base_model) if base_model else None,
        "data": config.data,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "target": config.target,
        "config": config.as_dict(),
    }
    rank = launched_rank()
    resume_from = resume_or_check_fresh(folder, settings, config.resume, rank, config.max_steps, starts_from=base_model)
    base_config, base_tokenizer = None, None
    if base_model is not None:  # after the cheap checks: this one imports torch and loads the tokenizer
        from nep_core.training.quiet import silence_libraries

        silence_libraries()
        base_config, base_tokenizer = check_base_model(base_model, domain)
    plan = RunPlan(config, domain, preset, base_model, base_config, folder, settings, resume_from, rank, base_tokenizer)
    context_room(plan, least_target_tokens(domain))
    return plan


def check_data_source(domain, data: str) -> None:
    """Each source joined in ``data`` (``A + B``, ``A * 2``) is a collector of the domain
    (``synthetic:20``, bare ``synthetic``) or an existing folder; checked before the run folder is touched."""
    from nep_core.dataset import parse_source, split_copies, split_sources

    if Path(data).exists():
        return
    for part in split_sources(data):
        source = split_copies(part)[0]
        if ":" not in source and source not in domain.collectors and not Path(source).exists():
            raise NepError(f"--data {source}: no such folder; make one with `nep collect --domain {domain.name} --out {source}`")
        parse_source(domain, part)  # an unknown collector (``bogus:3``) names the domain's collectors


def resume_or_check_fresh(
    folder: RunFolder, settings: dict[str, Any], resume: bool, rank: int, max_steps: int,
    keys: tuple[str, ...] | None = None, starts_from: Path | None = None,
) -> Path | None:
    """The checkpoint to resume from (its run must have the same ``settings`` on ``keys``, and be
    readable and short of ``max_steps``), or None for a new run, after checking that it would
    overwrite neither a resumable run, nor other files, nor the model ``starts_from``.

    A run that has trained all ``max_steps`` and exported their model raises AlreadyTrained; one whose
    export is missing (a crash or a Ctrl-C while it was written) resumes, which writes it again."""
    if resume:
        newest = folder.resume_checkpoint()
        folder.check_resumable(settings, *([keys] if keys else []))
        step = folder.check_resume_point(newest, max_steps)
        section = "rl" if "model" in settings else "training"  # what an `nep rl` run's nep.json records its steps in
        if step == max_steps and folder.exported_steps(section) == step:
            raise AlreadyTrained(f"nothing to do: {folder.root} has already trained all {step} steps (--max-steps {max_steps}) "
                                 f"and holds their model; pass --max-steps above {step} to train more")
        return newest
    if rank == 0:
        folder.check_fresh(starts_from)
    return None


def prepare_data(domain, data: str | None, say: Callable[[str], None]) -> PreparedData:
    """Sessions from ``data`` (or the domain's default dataset), split by source, as examples."""
    from nep_core.dataset import load_sessions
    from nep_core.examples import build_examples, split_sessions

    sessions, read_report = load_sessions(domain, data, strict=False, progress=say)
    if not sessions:
        raise NepError(f"no {domain.name} sessions in {data or 'the default dataset'}; collect some with `nep collect`")
    by_split = split_sessions(sessions, domain.examples)
    examples, report = build_examples(by_split, domain)
    if not examples["train"]:
        raise NepError(
            f"the train split is empty ({len(by_split['train'])} of {len(sessions)} sessions, no examples); "
            f"add more sessions to {data or 'the data'}"
        )
    source = data if data is not None else f"default ({domain.default_source})"
    unwritable = report.unwritable_warning()
    return PreparedData(by_split, examples, report, source, [*read_report.warnings, *([unwritable] if unwritable else [])])


def report_data_warnings(data: PreparedData, warn: Callable[[str], None]) -> None:
    """What reading the data skipped or let pass: the first five, then how many more."""
    for message in data.warnings[:5]:
        warn(f"warning: {message}")
    if len(data.warnings) > 5:
        warn(f"warning: ... and {len(data.warnings) - 5} more (`nep collect --source` lists 20)")


def prepare_tokenizer(plan: RunPlan, data: PreparedData):
    """A new run builds the tokenizer and saves it in the run folder; a resumed run (or a DDP peer) reloads it."""
    if plan.config.resume or plan.rank != 0:
        from transformers import AutoTokenizer

        try:
            return AutoTokenizer.from_pretrained(str(plan.folder.root), **LOCAL_ONLY)
        except Exception as error:
            raise NepError(
                f"{plan.folder.root}: cannot reload the run's tokenizer ({type(error).__name__}); start a new run with another --out"
            ) from None
    if plan.base_tokenizer is not None:
        tokenizer = plan.base_tokenizer
    else:
        tokenizer = plan.domain.build_tokenizer(data.sessions["train"])
    plan.folder.start_fresh(plan.settings)
    tokenizer.save_pretrained(str(plan.folder.root))
    return tokenizer


def max_target_tokens(domain, featurizer, examples: dict[str, list]) -> int:
    """The longest target (action + EOS): the most the grammar allows, or the most the data has."""
    observed = max((len(featurizer.target_ids(example.target)) for split in examples.values() for example in split), default=2)
    return max(observed, least_target_tokens(domain))


def least_target_tokens(domain) -> int:
    """What ``max_target_tokens`` comes to at least, known before the data is read: the grammar's longest
    action for a symbolic action space, else 2 (a token and EOS)."""
    from nep_core.action_space import SymbolicActionSpace

    if isinstance(domain.action_space, SymbolicActionSpace):
        return max((len(spec.slots) + 2 for spec in domain.action_space.kinds), default=2)
    return 2


def context_room(plan: RunPlan, target_tokens: int) -> int:
    """The context tokens a prompt keeps beside BOS, SEP and a target of ``target_tokens`` in the model's
    positions; a NepError saying what gives more room when none is left."""
    context_tokens = plan.max_positions - 2 - target_tokens
    if context_tokens < 1:
        fix = (f"pass a base model with more positions (--base-model {plan.base_model} takes {plan.max_positions})"
               if plan.base_model else "use a larger --preset")
        raise NepError(f"targets of up to {target_tokens} tokens leave no room for context in {plan.max_positions} positions; {fix}")
    return context_tokens


def context_cut_warning(plan: RunPlan, context_tokens: int) -> str | None:
    """With a base model, the warning that its positions cut the encoder's contexts short, naming both lengths."""
    encoded = getattr(plan.domain.encoder, "max_tokens", None)
    if plan.base_model is None or not isinstance(encoded, int) or encoded <= context_tokens:
        return None
    return (f"--base-model {plan.base_model} takes {plan.max_positions} positions, so contexts are cut from the encoder's "
            f"{encoded} tokens to the newest {context_tokens}; a base model with {encoded - context_tokens + plan.max_positions} "
            f"positions or more keeps them whole")


def resolve_precision(config: TrainConfig) -> str:
    """bf16-mixed on a GPU that has it (16-mixed on older ones), 32-true on a CPU, unless set."""
    if config.precision is not None:
        return config.precision
    import torch

    if not uses_cpu(config) and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def uses_cpu(config: TrainConfig) -> bool:
    import torch

    return config.accelerator == "cpu" or (config.accelerator == "auto" and not torch.cuda.is_available())


def processes_per_node(config: TrainConfig) -> int:
    devices = config.lightning_devices()
    if isinstance(devices, list):
        return len(devices)
    if isinstance(devices, int) and devices > 0:
        return devices
    return 1


def make_trainer(config: TrainConfig, folder: RunFolder, precision: str, validate: bool, log_every_n_steps: int | None = None):
    """The Lightning Trainer: step-based validation and checkpoints, CSV logs (every
    ``log_every_n_steps``, default up to 10), clean interruption."""
    import lightning as L
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from nep_core.training.callbacks import CtrlCFinishesStep, InterruptCheckpoint, SaveLastAtEnd, ValidateAtLastStep
    from nep_core.training.checkpoint_io import use_durable_checkpoints
    from nep_core.training.progress import StepProgress

    try:
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
            limit_val_batches=None if validate else 0,
            num_sanity_val_steps=0,
            gradient_clip_val=config.grad_clip,
            log_every_n_steps=log_every_n_steps or min(10, config.val_every),
            logger=CSVLogger(str(folder.root), name="logs"),
            callbacks=[
                ValidateAtLastStep(),
                CtrlCFinishesStep(),
                StepProgress(every=config.val_every, live=None if config.progress else False, enabled=config.progress),
                InterruptCheckpoint(folder.interrupt_checkpoint),
                SaveLastAtEnd(folder.last_checkpoint),
                ModelCheckpoint(
                    dirpath=str(folder.lightning),
                    every_n_train_steps=config.save_every or config.val_every,
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
    except (MisconfigurationException, ImportError) as error:  # an accelerator or strategy this machine lacks
        raise NepError(f"--accelerator {config.accelerator} --devices {config.devices} --strategy {config.strategy}: {first_line(error)}") from None
    except (ValueError, TypeError) as error:  # an unknown --strategy, fsdp on a CPU, --devices 0,0 on a CPU...
        raise NepError(f"--strategy/--devices/--accelerator: {first_line(error)}") from None
    use_durable_checkpoints(trainer.strategy)
    return trainer


def _say(enabled: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        if enabled:
            print(message, file=sys.stderr, flush=True)

    return say


@dataclass
class TrainingSetup:
    """The tokenizer, the token sequences and the model, ready for the Trainer."""

    tokenizer: Any
    train_set: list
    val_set: list
    context_tokens: int
    target_tokens: int
    system: Any
    datamodule: Any
    warnings: list[str] = field(default_factory=list)


def build_setup(plan: RunPlan, data: PreparedData) -> TrainingSetup:
    """Tokenizer, featurized examples (context cut to fit the model), model, LightningModule and DataModule."""
    import lightning as L

    from nep_core.features import Featurizer
    from nep_core.model.base import load_base_model
    from nep_core.model.config import build_model
    from nep_core.training.datamodule import NextEditDataModule, tokenize
    from nep_core.training.system import NextEditSystem

    config = plan.config
    tokenizer = prepare_tokenizer(plan, data)
    target_tokens = max_target_tokens(plan.domain, Featurizer(plan.domain, tokenizer, None, config.target), data.examples)
    context_tokens = context_room(plan, target_tokens)
    featurizer = Featurizer(plan.domain, tokenizer, context_tokens, config.target, count_problems=True)
    train_set = tokenize(data.examples["train"], featurizer)
    val_set = tokenize(spread_sample(data.examples["val"], config.val_examples), featurizer)
    L.seed_everything(config.seed, verbose=False)
    model = load_base_model(plan.base_model, tokenizer) if plan.base_model else build_model(plan.preset, tokenizer)
    system = NextEditSystem(
        model,
        learning_rate=config.resolved_learning_rate(plan.preset.name if plan.preset else None),
        max_steps=config.max_steps,
        warmup_steps=config.resolved_warmup_steps(),
        weight_decay=config.weight_decay,
        min_lr_ratio=config.min_lr_ratio,
        prompt_loss_weight=config.prompt_loss_weight,
        prompt_loss_share=config.prompt_loss_share,
    )
    datamodule = NextEditDataModule(train_set, val_set, tokenizer.pad_token_id, config.batch_size, config.seed)
    warnings = [message for message in (context_cut_warning(plan, context_tokens), featurizer.unlisted_warning(),
                                          featurizer.overlong_warning()) if message]
    return TrainingSetup(tokenizer, train_set, val_set, context_tokens, target_tokens, system, datamodule, warnings)


def spread_sample(items: list, limit: int) -> list:
    """At most ``limit`` of ``items`` (all when ``limit`` is 0), evenly spaced so every part of the list is represented."""
    if not limit or len(items) <= limit:
        return items
    return [items[index * len(items) // limit] for index in range(limit)]


def threads_from_environment() -> int | None:
    """``OMP_NUM_THREADS`` (the variable torch, OpenMP and torchrun use) when it is a positive whole number, or a list
    of them per nesting level (OpenMP's ``4,2``: the first), else None."""
    try:
        threads = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        return None
    return threads if threads > 0 else None


@contextmanager
def cpu_threads(config: TrainConfig) -> Iterator[None]:
    """On a CPU, give each process ``config.threads``, else ``OMP_NUM_THREADS``, else its share of the cores; restore after.

    Two processes that each use every core are about three times slower than with a share each (two
    `tags` trainings side by side on 2 cores: 74 s each against 23 s), so a machine shared with other
    work sets ``OMP_NUM_THREADS`` (the test suite does, per pytest-xdist worker)."""
    import torch

    before = torch.get_num_threads()
    if uses_cpu(config):
        torch.set_num_threads(config.threads or threads_from_environment() or max(1, (os.cpu_count() or 1) // processes_per_node(config)))
    elif torch.cuda.is_available():
        torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_num_threads(before)


def describe_processes(trainer) -> str:
    """``2 process(es) on cpu (1 thread(s) each)``: where a run trains, and on a CPU with how many threads (``cpu_threads``)."""
    import torch

    device = type(trainer.accelerator).__name__.replace("Accelerator", "").lower()
    threads = f" ({torch.get_num_threads()} thread(s) each)" if device == "cpu" else ""
    return f"{trainer.world_size} process(es) on {device}{threads}"


def waiting_for_nodes(trainer) -> str | None:
    """With ``--num-nodes`` above 1, where this machine waits for the others (training starts when all joined), else None."""
    environment = getattr(trainer.strategy, "cluster_environment", None)
    if trainer.num_nodes <= 1 or environment is None:
        return None
    waiting = f"waiting for {trainer.num_nodes} machines to join at {environment.main_address}:{environment.main_port} (this is NODE_RANK {environment.node_rank()})"
    if type(environment).__name__ != "LightningEnvironment":  # SLURM, torchrun...: the launcher starts the others
        return waiting
    unset = "" if os.environ.get("MASTER_PORT") else "; MASTER_PORT is not set, so this port is one this machine picked"
    return (f"{waiting}; run the same command on every machine with NODE_RANK 0..{trainer.num_nodes - 1} and the same MASTER_ADDR "
            f"(an address of NODE_RANK 0 the others reach) and MASTER_PORT{unset}")


def train(config: TrainConfig) -> Path:
    """Train a next-edit model as ``config`` says; returns the run folder, which holds the HF checkpoint.

    A new run's folder is made (on rank 0) once the settings are checked and before the data is read;
    a run that stops before writing into it leaves no folder."""
    plan = plan_run(config)
    with plan.folder.made(plan.rank == 0 and not config.resume):
        return train_as_planned(plan)


def train_as_planned(plan: RunPlan) -> Path:
    """The data, the tokenizer and the model, then the fit and the export, for a run ``plan_run`` checked."""
    config = plan.config
    from nep_core.training.quiet import silence_libraries

    silence_libraries()
    say = _say(plan.rank == 0 and config.progress)
    warn = _say(plan.rank == 0)  # --quiet leaves out the progress, not what was skipped
    data = prepare_data(plan.domain, config.data, say)
    report_data_warnings(data, warn)
    setup = build_setup(plan, data)
    for message in setup.warnings:
        warn(f"warning: {message}")
    precision = resolve_precision(config)
    with cpu_threads(config):
        trainer = make_trainer(config, plan.folder, precision, validate=bool(setup.val_set))
        batches = (len(setup.train_set) + config.batch_size - 1) // config.batch_size
        if batches < trainer.world_size:
            raise NepError(
                f"{len(setup.train_set)} training examples make {batches} batches of {config.batch_size}, fewer than the "
                f"{trainer.world_size} processes; lower --batch-size or --devices"
            )
        if not setup.val_set:
            warn("warning: the validation split has no examples; no validation metrics will be reported")
        parameters = sum(parameter.numel() for parameter in setup.system.model.parameters())
        counts = "/".join(str(len(data.sessions[split])) for split in ("train", "val", "test"))
        say(
            f"training {plan.domain.name}: {plan.model_label} ({parameters / 1e6:.2f}M parameters), sessions "
            f"train/val/test {counts}, examples {len(setup.train_set)}/{len(setup.val_set)}"
            + (f" (validating on {len(setup.val_set)} of {len(data.examples['val'])})"
               if 0 < config.val_examples < len(data.examples["val"]) else "")
            + ", "
            f"{describe_processes(trainer)}, {precision}"
            + (f", resuming from {plan.resume_from}" if plan.resume_from else "")
        )
        started = time.perf_counter()
        fit(plan, trainer, setup)
        check_converged(plan, trainer, {"train loss": setup.system.train_loss, "validation loss": setup.system.val_metrics.get("val_loss")})
        if trainer.is_global_zero:
            export(plan, data, setup, trainer, precision, time.perf_counter() - started)
    return plan.folder.root


class TrainingDiverged(NepError):
    """The losses at the end of training are not finite numbers: the model is NaN or infinite, not worth exporting."""


def check_converged(plan: RunPlan, trainer, losses: dict[str, float | None]) -> None:
    """Raise TrainingDiverged when a loss that was measured is NaN or infinite; the resumable
    checkpoints stay in the run folder, but no checkpoint is exported (an existing one is left as it was)."""
    import math

    bad = [f"{name} {float(value)}" for name, value in losses.items() if value is not None and not math.isfinite(float(value))]
    if bad:
        config = plan.config
        raise TrainingDiverged(
            f"training diverged ({', '.join(bad)} at step {trainer.global_step}); no model was exported to {plan.folder.root}; "
            f"train again with a lower --lr (this run: {config.resolved_learning_rate(plan.preset.name if plan.preset else None):g}) "
            f"and another --out"
        )


def fit(plan: RunPlan, trainer, setup: TrainingSetup) -> None:
    """``trainer.fit``; an interruption (Ctrl-C, SIGTERM) becomes TrainingInterrupted, saying how to resume."""
    resume_from = str(plan.resume_from) if plan.resume_from else None
    waiting = waiting_for_nodes(trainer)
    if waiting:
        _say(plan.rank == 0 and plan.config.progress)(waiting)
    try:
        trainer.fit(setup.system, datamodule=setup.datamodule, ckpt_path=resume_from, weights_only=True)
    except (SystemExit, KeyboardInterrupt):
        if not trainer.interrupted:
            raise
        raise TrainingInterrupted(interruption_message(plan, trainer.global_step)) from None


def interruption_message(plan: RunPlan, step: int) -> str:
    """Where the stopped run's state is and how to continue it; a run stopped before a step had finished
    saved nothing to resume (``InterruptCheckpoint``), so it is started again without ``--resume``."""
    folder = plan.folder
    saved = next((path for path in (folder.interrupt_checkpoint, folder.last_checkpoint) if path.exists()), None)
    if saved is None:
        return (f"training stopped before its first step of {plan.config.max_steps} had finished, so nothing was saved "
                f"to resume; start again with the same command")
    return (f"training stopped at step {step} of {plan.config.max_steps}; state saved in {saved}; "
            f"continue with the same command plus --resume")


def export(plan: RunPlan, data: PreparedData, setup: TrainingSetup, trainer, precision: str, wall_seconds: float) -> None:
    """Write the HF checkpoint with ``nep.json`` into the run folder, and the loss-curve PNG."""
    from nep_core import __version__
    from nep_core.checkpoint import save_checkpoint
    from nep_core.sessionlog import utc_now
    from nep_core.training.plot import plot_losses

    config, domain, system = plan.config, plan.domain, setup.system
    seconds = system.train_seconds
    meta = {
        "domain": domain.name,
        "plugin": domain.plugin,
        "action_space": {"name": domain.action_space.name, "version": domain.action_space.version},
        "target": config.target,
        "encoder": domain.encoder.settings(),
        "preset": plan.preset.as_dict() if plan.preset else None,
        "base_model": str(plan.base_model) if plan.base_model else None,
        "parameters": sum(parameter.numel() for parameter in system.model.parameters()),
        "max_context_tokens": setup.context_tokens,
        "max_target_tokens": setup.target_tokens,
        "data": {
            "source": data.source,
            "sessions": {split: len(sessions) for split, sessions in data.sessions.items()},
            "warnings": len(data.warnings),  # what reading the data skipped or let pass, as training warned
            **data.report.as_dict(),
            "example_config": dataclasses.asdict(domain.examples),
        },
        "training": {
            "steps": trainer.global_step,
            "max_steps": config.max_steps,
            "tokens": system.tokens_seen,
            "seconds": round(seconds, 3),
            "wall_seconds_this_start": round(wall_seconds, 3),
            "tokens_per_s": round(system.tokens_seen / seconds, 1) if seconds > 0 else None,
            "train_loss": _rounded(system.train_loss),
            "val_loss": _rounded(system.val_metrics.get("val_loss")),
            "batch_size": config.batch_size,
            "learning_rate": system.learning_rate,
            "precision": precision,
            "world_size": trainer.world_size,
            "seed": config.seed,
            "nep_version": __version__,
            "finished": utc_now(),
        },
        "metrics": {key: _rounded(value) for key, value in system.val_metrics.items()},
    }
    save_checkpoint(plan.folder.root, system.model, setup.tokenizer, meta)
    plot_losses(plan.folder.logs, plan.folder.loss_plot, title=f"{domain.name} · {plan.model_label}")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 5)
