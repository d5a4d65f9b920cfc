"""Lightning's training state written like every other NEP output: whole, fsynced, then renamed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from nep_core.atomic_files import atomic_path


def use_durable_checkpoints(strategy) -> None:
    """Write through ``DurableCheckpointIO`` where ``strategy`` writes through Lightning's plain
    ``TorchCheckpointIO`` (one device, DDP, FSDP's full state). XLA strategies accept only their own
    writer, and DeepSpeed and model-parallel strategies write sharded folders themselves: they keep theirs."""
    if type(strategy.checkpoint_io) is TorchCheckpointIO:
        strategy.checkpoint_io = DurableCheckpointIO()


class DurableCheckpointIO(TorchCheckpointIO):
    """``last.ckpt`` and the interrupt checkpoint survive a power cut: Lightning's own writer renames
    a finished file into place but never fsyncs it, so after a crash ``--resume`` could find it empty."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("NEP's checkpoint writer takes no storage_options")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary:
            torch.save(checkpoint, temporary)
