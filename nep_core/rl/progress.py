"""``nep rl``'s progress: ``nep train``'s (``StepProgress``) plus the KL to the start model when ``--beta`` is set."""

from __future__ import annotations

from typing import Any

import lightning as L

from nep_core.training.progress import StepProgress, _metric, describe_metrics


def describe_rl_metrics(trainer: L.Trainer) -> str:
    """``describe_metrics``, then ``KL 0.0123`` (the last step's estimate, ``rl/kl``, 3 significant digits) when it is logged."""
    text = describe_metrics(trainer)
    kl = _metric(trainer, "rl/kl")
    if kl is None:
        return text
    return f"{text} · KL {kl:.3g}" if text else f"KL {kl:.3g}"


class RLStepProgress(StepProgress):
    """``StepProgress`` whose lines describe the metrics with ``describe_rl_metrics``."""

    @classmethod
    def replacing(cls, progress: StepProgress) -> RLStepProgress:
        """A copy of ``progress`` (not started yet) with this class's lines."""
        copy = cls(every=progress.every, live=progress.live, enabled=progress.enabled)
        return copy

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        """Before the first step: the start model's validation (``RLSystem.on_train_start``), as step 0."""
        start = getattr(pl_module, "start_metrics", None)
        if not trainer.is_global_zero or not self.enabled or trainer.global_step or not start or getattr(self, "_said_start", False):
            return
        self._said_start = True
        exact = start.get("val_exact_match")
        line = f"val reward {start['val_reward']:.3f}" + (f" (exact {exact:.3f})" if exact is not None else "")
        if self._progress is not None:
            self._progress.update(self._task, metrics=line)
        else:
            import sys
            import time

            print(f"step 0/{trainer.max_steps} · {line} · {time.perf_counter() - self._started:.0f}s", file=sys.stderr, flush=True)

    def describe(self, trainer: L.Trainer) -> str:
        return describe_rl_metrics(trainer)
