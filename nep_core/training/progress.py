"""Training progress on stderr: a rich bar over optimizer steps on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback


def _metric(trainer: L.Trainer, name: str) -> float | None:
    value = trainer.callback_metrics.get(name)
    return None if value is None else float(value)


def describe_metrics(trainer: L.Trainer) -> str:
    """``loss 0.512 · val 0.431 (acc 0.912) · 11.2k tok/s`` from the latest logged values; for ``nep rl``,
    ``sampled reward 0.391 · val reward 0.512 (exact 0.500)``."""
    parts = []
    loss = _metric(trainer, "train/loss_smooth")
    if loss is not None:
        parts.append(f"loss {loss:.3f}")
    sampled = _metric(trainer, "rl/reward")
    if sampled is not None:
        parts.append(f"sampled reward {sampled:.3f}")
    val = _metric(trainer, "val/loss")
    if val is not None:
        accuracy = _metric(trainer, "val/token_acc")
        parts.append(f"val {val:.3f}" + (f" (acc {accuracy:.3f})" if accuracy is not None else ""))
    reward = _metric(trainer, "val/reward")  # nep rl validates by decoding, not by loss
    if reward is not None:
        exact = _metric(trainer, "val/exact")
        parts.append(f"val reward {reward:.3f}" + (f" (exact {exact:.3f})" if exact is not None else ""))
    rate = _metric(trainer, "train/tokens_per_s")
    if rate is not None:
        parts.append(f"{rate / 1000:.1f}k tok/s")
    return " · ".join(parts)


class StepProgress(Callback):
    """Shows global step out of ``max_steps`` (epochs mean little here), on rank 0 only.

    On a terminal it is a ``rich`` progress bar; elsewhere (CI logs, pipes) a line every ``every`` steps.
    """

    def __init__(self, every: int = 100, live: bool | None = None, enabled: bool = True):
        self.every = every
        self.enabled = enabled
        self.live = sys.stderr.isatty() if live is None else live
        self._progress: Any = None
        self._task: Any = None
        self._started = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or not self.enabled:
            return
        self._started = time.perf_counter()
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("training"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("<"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[metrics]}"),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("train", total=trainer.max_steps, completed=trainer.global_step, metrics="")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if not trainer.is_global_zero or not self.enabled:
            return
        step = trainer.global_step
        if self._progress is not None:
            self._progress.update(self._task, completed=step, metrics=self.describe(trainer))
        elif not trainer.enable_validation and (step % self.every == 0 or step == trainer.max_steps):
            self._print_line(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or not self.enabled or trainer.sanity_checking:
            return
        if self._progress is not None:
            self._progress.update(self._task, metrics=self.describe(trainer))
        else:
            self._print_line(trainer)

    def _print_line(self, trainer: L.Trainer) -> None:
        elapsed = time.perf_counter() - self._started
        print(f"step {trainer.global_step}/{trainer.max_steps} · {self.describe(trainer)} · {elapsed:.0f}s", file=sys.stderr, flush=True)

    def describe(self, trainer: L.Trainer) -> str:
        """The metrics a progress line shows (``describe_metrics``)."""
        return describe_metrics(trainer)

    def _stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._stop()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._stop()
