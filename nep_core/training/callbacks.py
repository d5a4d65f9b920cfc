"""Lightning callbacks for a clean finish and a clean interruption."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, Checkpoint

from nep_core.errors import WeightsNotFinite


class ValidateAtLastStep(Callback):
    """Ask Lightning to stop at ``max_steps`` so it validates there too (metrics for ``nep.json``)."""

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
            trainer.should_stop = True


class SaveLastAtEnd(Callback):
    """Write ``last.ckpt`` when training ends, so a later ``--resume --max-steps MORE`` starts from the end."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.save_checkpoint(self.path)


class InterruptCheckpoint(Checkpoint):
    """Save ``path`` when training stops on an exception (Ctrl-C, SIGTERM, a crash; not weights gone NaN); delete it
    after a clean finish.

    Lightning's own OnExceptionCheckpoint does the same but also makes ``fit(ckpt_path=None)`` resume
    from "last" behind the user's back; NEP resumes only when asked (``--resume``). A run that has not
    finished a step saves nothing, so it leaves no checkpoint that blocks the next fresh start.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if trainer.global_step > 0 and not isinstance(exception, WeightsNotFinite):
            trainer.save_checkpoint(self.path)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        trainer.strategy.remove_checkpoint(self.path)


class CtrlCFinishesStep(Callback):
    """The first Ctrl-C acts as SIGTERM: Lightning finishes the current step, saves and stops.

    Lightning checks for SIGTERM between steps (and tells the other DDP ranks), so the checkpoint
    holds whole steps only. A second Ctrl-C interrupts at once (and still saves what it can).
    """

    def __init__(self) -> None:
        self._previous: Any = None
        self._installed = False

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        self._previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, self._first_interrupt)
        self._installed = True

    def _first_interrupt(self, signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.kill(os.getpid(), signal.SIGTERM)

    def _restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)
            self._installed = False

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore()

