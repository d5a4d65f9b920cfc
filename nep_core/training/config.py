"""The typed settings of one training run. Import-light: no torch here."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nep_core.errors import NepError
from nep_core.features import TARGETS

DEFAULT_LEARNING_RATES: dict[str, float] = {"tiny": 2e-3, "small": 1e-3, "base": 5e-4, "large": 3e-4}
"""Peak AdamW learning rate per preset; smaller models take larger steps."""

DEFAULT_MAX_STEPS = 1000
"""Training steps when neither ``--max-steps`` nor the domain says otherwise."""

PROMPT_LOSS_SHARE = 0.25
"""Share of the prompt positions a prompt loss scores each step (drawn at random)."""

BASE_MODEL_LEARNING_RATE = 1e-4
"""Peak learning rate when fine-tuning a pretrained ``--base-model``."""

PRECISIONS = ("32-true", "bf16-mixed", "16-mixed", "bf16-true", "64-true")

MAX_SEED = 2**32 - 1
"""The largest ``--seed``: numpy's and Lightning's ``seed_everything`` take 0 to 2**32 - 1."""

MAX_THREADS = 1024
"""The most ``--threads`` (CPU threads per process); far more makes OpenMP crash rather than fail."""


@dataclass
class TrainConfig:
    """Everything ``nep train`` needs; the CLI options map one to one onto these fields.

    ``None`` means "choose for me": ``max_steps`` is the domain's ``default_max_steps`` (else
    ``DEFAULT_MAX_STEPS``), ``out`` is ``runs/<domain>``, ``preset`` the domain's default,
    ``learning_rate`` a per-preset default, ``warmup_steps`` 5% of ``max_steps`` (at most 200),
    ``save_every`` the same as ``val_every``, ``val_examples`` (0: all) the validation examples,
    spread evenly over the validation split, ``precision`` bf16-mixed on a GPU and 32-true on a CPU,
    ``threads`` (CPU threads per process) ``OMP_NUM_THREADS`` when it is a positive number, else the CPU cores divided among the processes on this machine.
    ``target`` is what the model learns to write: the whole ``action``, or its ``location`` only (a
    location model for two-stage prediction, docs/serving.md). ``prompt_loss_weight`` (None: the
    domain's) weighs a second loss on the prompt's own tokens, scored at a random
    ``prompt_loss_share`` of their positions (``NextEditSystem``).
    """

    domain: str
    data: str | None = None
    out: Path | None = None
    preset: str | None = None
    base_model: Path | None = None
    max_steps: int | None = None
    batch_size: int = 32
    learning_rate: float | None = None
    weight_decay: float = 0.01
    warmup_steps: int | None = None
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    val_every: int = 100
    val_examples: int = 1024
    save_every: int | None = None
    resume: bool = False
    seed: int = 0
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str | None = None
    threads: int | None = None
    progress: bool = True
    target: str = "action"
    prompt_loss_weight: float | None = None
    prompt_loss_share: float = PROMPT_LOSS_SHARE

    def __post_init__(self) -> None:
        if self.out is not None:
            self.out = Path(self.out)
        if self.base_model is not None:
            if not str(self.base_model).strip():  # Path("") would be the current folder
                raise NepError("--base-model is empty; pass a local Hugging Face model folder")
            self.base_model = Path(self.base_model)
        self.devices = str(self.devices)

    def validate(self) -> None:
        """Raise NepError naming the first bad value and what to pass instead."""
        checks = [
            (self.max_steps is None or self.max_steps >= 1, f"--max-steps must be at least 1 (got {self.max_steps})"),
            (self.batch_size >= 1, f"--batch-size must be at least 1 (got {self.batch_size})"),
            (self.val_every >= 1, f"--val-every must be at least 1 (got {self.val_every})"),
            (self.val_examples >= 0, f"--val-examples must be at least 0 (got {self.val_examples})"),
            (self.save_every is None or self.save_every >= 1, f"--save-every must be at least 1 (got {self.save_every})"),
            (self.learning_rate is None or _finite(self.learning_rate) and self.learning_rate > 0,
             f"--lr must be a positive finite number (got {self.learning_rate})"),
            (self.warmup_steps is None or self.warmup_steps >= 0, f"warmup_steps must be >= 0 (got {self.warmup_steps})"),
            (_finite(self.min_lr_ratio) and 0.0 <= self.min_lr_ratio <= 1.0, f"min_lr_ratio must be in [0, 1] (got {self.min_lr_ratio})"),
            (_finite(self.weight_decay) and self.weight_decay >= 0, f"weight_decay must be a finite number >= 0 (got {self.weight_decay})"),
            (_finite(self.grad_clip) and self.grad_clip >= 0, f"grad_clip must be a finite number >= 0 (got {self.grad_clip})"),
            (
                self.prompt_loss_weight is None or _finite(self.prompt_loss_weight) and self.prompt_loss_weight >= 0,
                f"--prompt-loss-weight must be a finite number >= 0 (got {self.prompt_loss_weight})",
            ),
            (_finite(self.prompt_loss_share) and 0.0 < self.prompt_loss_share <= 1.0,
             f"prompt_loss_share must be in (0, 1] (got {self.prompt_loss_share})"),
            (0 <= self.seed <= MAX_SEED, f"--seed must be a whole number from 0 to {MAX_SEED} (got {self.seed})"),
            (self.threads is None or 1 <= self.threads <= MAX_THREADS,
             f"--threads must be from 1 to {MAX_THREADS} (got {self.threads})"),
            (self.num_nodes >= 1, f"--num-nodes must be at least 1 (got {self.num_nodes})"),
            (
                self.precision is None or self.precision in PRECISIONS,
                f"--precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})",
            ),
            (self.target in TARGETS, f"--target must be one of {', '.join(TARGETS)} (got {self.target!r})"),
            (self.accelerator in ("auto", "cpu", "gpu", "cuda", "mps"), f"unknown --accelerator '{self.accelerator}' (use auto, cpu, gpu or mps)"),
        ]
        for ok, message in checks:
            if not ok:
                raise NepError(message)
        if self.devices != "auto" and not _is_device_spec(self.devices):
            raise NepError(f"--devices must be auto, a count (2), -1 for all, or a list like 0,1 (got '{self.devices}')")
        if self.preset is not None and self.base_model is not None:
            raise NepError("pass either --preset or --base-model, not both (a base model brings its own size)")

    @property
    def run_dir(self) -> Path:
        return self.out if self.out is not None else Path("runs") / self.domain

    def resolved_learning_rate(self, preset: str | None) -> float:
        if self.learning_rate is not None:
            return self.learning_rate
        if self.base_model is not None:
            return BASE_MODEL_LEARNING_RATE
        return DEFAULT_LEARNING_RATES.get(preset or "", 1e-3)

    def resolved_warmup_steps(self) -> int:
        if self.warmup_steps is not None:
            return self.warmup_steps
        return min(200, max(1, self.max_steps // 20))

    def lightning_devices(self) -> int | str | list[int]:
        """``--devices`` as Lightning takes it: "auto", an int, or a list of indices."""
        if self.devices == "auto":
            return "auto"
        if "," in self.devices:
            return [int(part) for part in self.devices.split(",") if part.strip()]
        return int(self.devices)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("out", "base_model"):
            out[key] = None if out[key] is None else str(out[key])
        return out


def _finite(value: float) -> bool:
    """A real number that is neither infinite nor NaN (``--lr inf`` would train a NaN model)."""
    return isinstance(value, (int, float)) and math.isfinite(value)


def _is_device_spec(value: str) -> bool:
    parts = [part.strip() for part in value.split(",")]
    try:
        numbers = [int(part) for part in parts if part]
    except ValueError:
        return False
    if len(numbers) == 1 and "," not in value:
        return numbers[0] >= 1 or numbers[0] == -1
    return bool(numbers) and all(number >= 0 for number in numbers)
