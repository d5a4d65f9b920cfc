"""Where a model runs for inference: ``--device`` and ``--dtype`` to a torch device and dtype."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nep_core.errors import NepError

if TYPE_CHECKING:
    import torch

DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_placement(device: str = "cpu", dtype: str = "auto") -> tuple[str, torch.dtype]:
    """``device``: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when there is a GPU, else the CPU);
    ``dtype``: one of ``DTYPES``, ``auto`` meaning bfloat16 on a GPU and float32 on the CPU (where
    bfloat16 matrix products are slow on most processors). A GPU asked for where there is none, or an
    unknown name, is a one-line ``NepError``."""
    import torch

    if dtype not in DTYPES:
        raise NepError(f"--dtype {dtype}: choose one of {', '.join(DTYPES)}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise NepError(f"--device {device}: this machine has no CUDA GPU that torch can use; use --device cpu")
        index = device.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise NepError(f"--device {device}: there are {torch.cuda.device_count()} CUDA devices (cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    elif device != "cpu":
        raise NepError(f"--device {device}: choose cpu, cuda, cuda:N or auto")
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    return device, getattr(torch, dtype)
