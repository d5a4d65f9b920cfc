"""The Lightning system: wraps a causal LM for supervised next-edit training.

The model (a ``transformers`` causal LM) stays a plain ``nn.Module``; this class adds the loss, the
metrics and the optimizer. The loss is cross-entropy over target tokens, averaged per token, plus
``prompt_loss_weight`` times the same over the prompt's tokens (the history is itself a sequence of
actions, so each example also teaches what followed each earlier action; ``prompt_loss_share`` of the
prompt positions, drawn at random each step, keeps the output head's cost down). Only the positions
that are scored go through the output head, which matters when a base model has a big vocabulary.
"""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from nep_core.training.config import PROMPT_LOSS_SHARE
from nep_core.training.datamodule import IGNORE_INDEX


class NextEditSystem(L.LightningModule):
    """Trains ``model`` to write the target action after the prompt.

    Logs ``train/loss`` (and ``train/loss_smooth``, its moving average: length-grouped batches make the
    raw one jumpy), ``train/lr``, ``train/tokens_per_s`` (all processes together), ``val/loss``
    (per target token), ``val/token_acc`` (teacher-forced next-token accuracy on targets) and
    ``val/exact`` (share of examples whose whole target is predicted right).
    """

    def __init__(
        self,
        model: nn.Module,
        learning_rate: float,
        max_steps: int,
        warmup_steps: int,
        weight_decay: float = 0.01,
        min_lr_ratio: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.95),
        prompt_loss_weight: float = 0.0,
        prompt_loss_share: float = PROMPT_LOSS_SHARE,
    ):
        super().__init__()
        self.model = model
        self.learning_rate = learning_rate
        self.max_steps = max_steps
        self.warmup_steps = warmup_steps
        self.weight_decay = weight_decay
        self.min_lr_ratio = min_lr_ratio
        self.betas = betas
        self.prompt_loss_weight = prompt_loss_weight
        self.prompt_loss_share = prompt_loss_share
        self.save_hyperparameters(
            "learning_rate", "max_steps", "warmup_steps", "weight_decay", "min_lr_ratio", "betas", "prompt_loss_weight", "prompt_loss_share"
        )
        self.tokens_seen = 0
        self.train_seconds = 0.0
        self.train_loss: float | None = None
        self._loss_average = 0.0
        self._loss_steps = 0
        self.val_metrics: dict[str, float] = {}
        self._step_started = 0.0
        self._tokens_per_s: float | None = None
        self._val_totals: torch.Tensor | None = None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Next-token logits at every position (inference)."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    def target_logits(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits at the positions that predict a target token, those tokens, and each one's row."""
        logits, targets, rows, _ = self._scored_logits(batch, with_prompt=False)
        return logits, targets, rows

    def _scored_logits(
        self, batch: dict[str, torch.Tensor], with_prompt: bool
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """``target_logits``, plus (logits, tokens) at a random ``prompt_loss_share`` of the prompt positions."""
        hidden = self.model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        head = self.model.get_output_embeddings()
        labels = batch["labels"][:, 1:]
        keep = labels != IGNORE_INDEX
        logits = head(hidden[:, :-1][keep])
        rows = torch.arange(labels.shape[0], device=labels.device).unsqueeze(1).expand_as(labels)[keep]
        prompt = None
        if with_prompt:
            chosen = batch["prompt_mask"][:, 1:]
            if self.prompt_loss_share < 1.0:
                chosen = chosen & (torch.rand(chosen.shape, device=chosen.device) < self.prompt_loss_share)
            prompt = (head(hidden[:, :-1][chosen]).float(), batch["input_ids"][:, 1:][chosen])
        return logits.float(), labels[keep], rows, prompt

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        with_prompt = self.prompt_loss_weight > 0 and "prompt_mask" in batch
        logits, targets, _, prompt = self._scored_logits(batch, with_prompt)
        loss = F.cross_entropy(logits, targets)
        self._loss_average = 0.95 * self._loss_average + 0.05 * loss.item()
        self._loss_steps += 1
        self.train_loss = self._loss_average / (1.0 - 0.95**self._loss_steps)  # bias-corrected, like Adam's moments
        self.log("train/loss", loss, on_step=True, on_epoch=False)
        self.log("train/loss_smooth", self.train_loss, prog_bar=True, on_step=True, on_epoch=False)
        if prompt is not None and prompt[1].numel():
            prompt_loss = F.cross_entropy(*prompt)
            self.log("train/prompt_loss", prompt_loss, on_step=True, on_epoch=False)
            return loss + self.prompt_loss_weight * prompt_loss
        return loss

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self._step_started = time.perf_counter()
        loop = self.trainer.fit_loop.epoch_loop
        if getattr(loop, "_batches_that_stepped", self.global_step) != self.global_step:
            # the logs' step is the training step: Lightning counts one more after a resume, taking the checkpoint for
            # one saved before its count (at a validation's end), where NEP saves after it (at the end of training)
            loop._batches_that_stepped = self.global_step

    def on_train_batch_end(self, outputs: Any, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        seconds = time.perf_counter() - self._step_started
        tokens = self.batch_tokens(batch)
        if self.trainer.world_size > 1:
            tokens = self.trainer.strategy.reduce(tokens.float(), reduce_op="sum")
        tokens = int(tokens.item())
        self.tokens_seen += tokens
        self.train_seconds += seconds
        rate = tokens / max(seconds, 1e-9)
        self._tokens_per_s = rate if self._tokens_per_s is None else 0.9 * self._tokens_per_s + 0.1 * rate
        self.log("train/tokens_per_s", self._tokens_per_s, prog_bar=True, on_step=True, on_epoch=False)
        self.log("train/lr", self.trainer.optimizers[0].param_groups[0]["lr"], on_step=True, on_epoch=False)

    def batch_tokens(self, batch: Any) -> torch.Tensor:
        """Tokens the step's forward pass read (for ``train/tokens_per_s``)."""
        return batch["attention_mask"].sum()

    def on_validation_epoch_start(self) -> None:
        self._val_totals = torch.zeros(5, dtype=torch.float64, device=self.device)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        logits, targets, rows = self.target_logits(batch)
        loss_sum = F.cross_entropy(logits, targets, reduction="sum")
        wrong = (logits.argmax(dim=-1) != targets).to(torch.float64)
        wrong_per_row = torch.zeros(batch["input_ids"].shape[0], dtype=torch.float64, device=wrong.device).index_add_(0, rows, wrong)
        self._val_totals += torch.stack(
            [
                loss_sum.to(torch.float64),
                torch.tensor(float(targets.numel()), dtype=torch.float64, device=wrong.device),
                targets.numel() - wrong.sum(),
                (wrong_per_row == 0).sum().to(torch.float64),
                torch.tensor(float(batch["input_ids"].shape[0]), dtype=torch.float64, device=wrong.device),
            ]
        )

    def on_validation_epoch_end(self) -> None:
        totals = self._val_totals
        if totals is None:
            return
        if self.trainer.world_size > 1:
            totals = self.trainer.strategy.reduce(totals, reduce_op="sum")
        loss_sum, tokens, correct, exact, examples = totals.tolist()
        if tokens == 0:
            return
        self.val_metrics = {
            "val_loss": loss_sum / tokens,
            "val_token_accuracy": correct / tokens,
            "val_exact_match": exact / max(examples, 1),
        }
        if not self.trainer.sanity_checking:
            self.log("val/loss", self.val_metrics["val_loss"], prog_bar=True)
            self.log("val/token_acc", self.val_metrics["val_token_accuracy"], prog_bar=True)
            self.log("val/exact", self.val_metrics["val_exact_match"])

    def configure_optimizers(self) -> dict[str, Any]:
        decay, no_decay = [], []
        for parameter in self.model.parameters():
            if parameter.requires_grad:
                (decay if parameter.dim() >= 2 else no_decay).append(parameter)
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": self.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.learning_rate,
            betas=self.betas,
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.lr_factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def lr_factor(self, step: int) -> float:
        """Linear warmup to the peak, then cosine decay to ``min_lr_ratio`` of it at ``max_steps``."""
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        span = max(1, self.max_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["nep_progress"] = {
            "tokens_seen": self.tokens_seen,
            "train_seconds": self.train_seconds,
            "train_loss": self.train_loss,
            "loss_average": [self._loss_average, self._loss_steps],
            "val_metrics": self.val_metrics,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The run's counters; and its warmup, which happened once, at its start: a resume with another --max-steps
        would size it anew (``max_steps // 20``) and send the learning rate back into a warmup part way through."""
        warmup = checkpoint.get("hyper_parameters", {}).get("warmup_steps")
        if isinstance(warmup, int) and not isinstance(warmup, bool):
            self.warmup_steps = warmup
            self.hparams["warmup_steps"] = warmup
        progress = checkpoint.get("nep_progress", {})
        self.tokens_seen = int(progress.get("tokens_seen", 0))
        self.train_seconds = float(progress.get("train_seconds", 0.0))
        self.train_loss = progress.get("train_loss")
        self._loss_average, self._loss_steps = progress.get("loss_average", [0.0, 0])
        self.val_metrics = dict(progress.get("val_metrics", {}))
