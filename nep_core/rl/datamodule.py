"""Batches of prompts (whole examples: context and the user's real next action) for ``nep rl``."""

from __future__ import annotations

from typing import Sequence

import lightning as L
from torch.utils.data import DataLoader

from nep_core.errors import NepError
from nep_core.examples import Example
from nep_core.training.datamodule import ResumableBatchSampler, ResumableDataLoader


class PromptDataModule(L.LightningDataModule):
    """Shuffled, resumable batches of training examples; validation examples in order."""

    def __init__(self, train: Sequence[Example], val: Sequence[Example], batch_size: int, seed: int = 0):
        super().__init__()
        self.train_examples = list(train)
        self.val_examples = list(val)
        self.batch_size = batch_size
        self.seed = seed

    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (0, 1) if trainer is None else (trainer.global_rank, trainer.world_size)

    def train_dataloader(self) -> ResumableDataLoader:
        rank, world_size = self._rank()
        sampler = ResumableBatchSampler([1] * len(self.train_examples), self.batch_size, seed=self.seed, rank=rank, world_size=world_size)
        if len(sampler) == 0:  # check_batches refuses this before the processes start; this is for callers that did not ask it
            raise NepError(batch_problem(len(self.train_examples), self.batch_size, world_size) or "no batch of prompts")
        return ResumableDataLoader(self.train_examples, batch_sampler=sampler, collate_fn=list)

    def transfer_batch_to_device(self, batch: list[Example], device, dataloader_idx: int) -> list[Example]:
        return batch  # examples are Python objects; the sampler puts tensors on the model's device

    def val_shared(self, world_size: int) -> bool:
        """Whether every process validates all the examples (fewer of them than processes), rather than its own share."""
        return len(self.val_examples) < world_size

    def val_dataloader(self) -> DataLoader:
        rank, world_size = self._rank()
        shard = self.val_examples if self.val_shared(world_size) else self.val_examples[rank::world_size]
        return DataLoader(shard, batch_size=16, shuffle=False, collate_fn=list)


def batch_problem(prompts: int, batch_size: int, world_size: int) -> str | None:
    """Why ``prompts`` training prompts cannot make full batches of ``batch_size`` for each of ``world_size``
    processes, naming the real cause and the fix; None when they can."""
    if batch_size > prompts:
        return (f"--batch-size {batch_size} is more than the {prompts} training prompts, so every step would have {prompts}; "
                f"pass --batch-size {prompts} or less, or more data")
    batches = (prompts + batch_size - 1) // batch_size
    if batches < world_size:
        return (f"the {prompts} training prompts make {batches} batch(es) of {batch_size}, fewer than the {world_size} processes "
                f"(--devices), each of which needs its own batch; pass --batch-size {max(1, prompts // world_size)} or less, "
                "fewer --devices, or more data")
    return None
