"""Token sequences, batches and the LightningDataModule for supervised next-edit training.

A sequence is ``<bos> context <sep>`` (the prompt) followed by ``action <eos>`` (the target). Labels
are ``-100`` on the prompt and on padding, so the loss covers the target only. Batches are padded on
the right. Training batches are grouped by length (less padding), shuffled the same way for a
given seed and epoch, split across ranks, and resume mid-epoch exactly where a checkpoint left off.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from nep_core.errors import NepError
from nep_core.examples import Example
from nep_core.features import Featurizer

IGNORE_INDEX = -100


@dataclass(frozen=True)
class TokenizedExample:
    """Prompt and target ids of one example, concatenated."""

    input_ids: tuple[int, ...]
    prompt_length: int

    @property
    def target_length(self) -> int:
        return len(self.input_ids) - self.prompt_length


def tokenize(examples: Sequence[Example], featurizer: Featurizer) -> list[TokenizedExample]:
    out = []
    for example in examples:
        prompt = featurizer.prompt_ids(example.context)
        target = featurizer.target_ids(example.target, example.context)
        out.append(TokenizedExample(tuple(prompt + target), len(prompt)))
    return out


class TokenizedDataset(Dataset):
    def __init__(self, examples: Sequence[TokenizedExample]):
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> TokenizedExample:
        return self.examples[index]


def collate(batch: Sequence[TokenizedExample], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask``, ``labels`` (-100 on prompt and padding) and
    ``prompt_mask`` (the prompt tokens after ``<bos>``: those a prompt loss predicts)."""
    width = max(len(example.input_ids) for example in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    prompt_mask = torch.zeros((len(batch), width), dtype=torch.bool)
    for row, example in enumerate(batch):
        ids = torch.tensor(example.input_ids, dtype=torch.long)
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
        labels[row, example.prompt_length : len(ids)] = ids[example.prompt_length :]
        prompt_mask[row, 1 : example.prompt_length] = True
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels, "prompt_mask": prompt_mask}


class Collator:
    """A picklable ``collate`` with the pad id bound."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: Sequence[TokenizedExample]) -> dict[str, torch.Tensor]:
        return collate(batch, self.pad_id)


class ResumableBatchSampler(Sampler[list[int]]):
    """Length-grouped, shuffled batches: the same ones for the same (seed, epoch), dealt across ranks.

    Each epoch shuffles the examples, sorts them by length within windows of ``group_batches``
    batches, cuts batches and shuffles the batch order. Every rank gets the same number of batches
    (the remainder is dropped), so DDP never waits on a rank that ran out. ``state_dict`` records how
    many batches of the epoch were handed out; ``load_state_dict`` makes the next epoch with that
    number skip them, so a resumed run continues with the very next batch (also when it had ended at
    ``max_steps`` mid-epoch, which Lightning resumes in the epoch after). Lightning calls
    ``set_epoch`` on ``batch_sampler.sampler``, hence ``sampler`` is this object itself.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        group_batches: int = 50,
    ):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.group_batches = group_batches
        self.epoch = 0
        self.position = 0
        self._resume: tuple[int, int] | None = None

    @property
    def sampler(self) -> ResumableBatchSampler:
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches for ``epoch``."""
        rng = random.Random(f"nep-batches-{self.seed}-{epoch}")
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        window = self.batch_size * self.group_batches
        batches: list[list[int]] = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=lambda index: self.lengths[index])
            batches.extend(chunk[offset : offset + self.batch_size] for offset in range(0, len(chunk), self.batch_size))
        rng.shuffle(batches)
        per_rank = len(batches) // self.world_size
        return batches[self.rank : per_rank * self.world_size : self.world_size]

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size // self.world_size

    def __iter__(self) -> Iterator[list[int]]:
        skip = 0
        if self._resume is not None:
            resume_epoch, resume_position = self._resume
            self._resume = None
            if resume_epoch == self.epoch:
                skip = resume_position
            elif resume_epoch == self.epoch - 1 and resume_position < len(self.epoch_batches(resume_epoch)):
                # a run that ended at --max-steps mid-epoch and is resumed for more steps: Lightning
                # counts its epoch as done, but its batches are not all used; they come first
                self.epoch, skip = resume_epoch, resume_position
        self.position = skip
        for batch in self.epoch_batches(self.epoch)[skip:]:
            self.position += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed, "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("seed") == self.seed and state.get("batch_size") == self.batch_size:
            self._resume = (int(state["epoch"]), int(state["position"]))


class ResumableDataLoader(DataLoader):
    """A DataLoader whose place in the epoch is saved in Lightning checkpoints (via its batch sampler)."""

    def state_dict(self) -> dict[str, Any]:
        return self.batch_sampler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.batch_sampler.load_state_dict(state)


class NextEditDataModule(L.LightningDataModule):
    """Train and validation loaders over already tokenized examples."""

    def __init__(
        self,
        train: Sequence[TokenizedExample],
        val: Sequence[TokenizedExample],
        pad_id: int,
        batch_size: int,
        seed: int = 0,
    ):
        super().__init__()
        self.train_examples = list(train)
        self.val_examples = list(val)
        self.pad_id = pad_id
        self.batch_size = batch_size
        self.seed = seed

    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        if trainer is None:
            return 0, 1
        return trainer.global_rank, trainer.world_size

    def train_dataloader(self) -> ResumableDataLoader:
        rank, world_size = self._rank()
        sampler = ResumableBatchSampler(
            [len(example.input_ids) for example in self.train_examples],
            self.batch_size,
            seed=self.seed,
            rank=rank,
            world_size=world_size,
        )
        if len(sampler) == 0:
            raise NepError(
                f"{len(self.train_examples)} training examples make no full batch for each of {world_size} "
                f"processes; use a smaller --batch-size or fewer --devices"
            )
        return ResumableDataLoader(TokenizedDataset(self.train_examples), batch_sampler=sampler, collate_fn=Collator(self.pad_id))

    def val_dataloader(self) -> DataLoader:
        rank, world_size = self._rank()
        ordered = sorted(range(len(self.val_examples)), key=lambda index: len(self.val_examples[index].input_ids))
        if len(ordered) >= world_size:  # else every rank sees all of it: the reduced ratios are the same
            ordered = ordered[rank::world_size]
        shard = [self.val_examples[index] for index in ordered]
        return DataLoader(TokenizedDataset(shard), batch_size=self.batch_size * 2, shuffle=False, collate_fn=Collator(self.pad_id))
