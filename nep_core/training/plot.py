"""The loss-curve PNG of a run, drawn from its CSV logs (every start and resume, in order)."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Sequence

from nep_core.atomic_files import atomic_path


def read_curves(logs: Path, names: Sequence[str] = ("train/loss", "val/loss")) -> dict[str, dict[int, float]]:
    """``{metric: {step: value}}`` for each of ``names``; a later log wins on a repeated step. A row
    that does not parse (the last, torn by a kill or a power cut: Lightning's CSV is not fsynced) is
    left out."""
    curves: dict[str, dict[int, float]] = {name: {} for name in names}

    def version(path: Path) -> int:
        match = re.search(r"version_(\d+)", str(path))
        return int(match.group(1)) if match else -1

    for path in sorted(logs.glob("**/metrics.csv"), key=version):
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            try:
                for row in csv.DictReader(handle):
                    for name, points in curves.items():
                        value = row.get(name)
                        if value not in (None, "") and row.get("step") not in (None, ""):
                            try:
                                points[int(float(row["step"]))] = float(value)
                            except (TypeError, ValueError, OverflowError):
                                continue
            except csv.Error:  # a NUL byte, or a quote left open: what came before it is kept
                continue
    return curves


def moving_average(values: list[float], window: int) -> list[float]:
    """The mean of each value and up to ``window - 1`` before it."""
    out, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        out.append(total / min(index + 1, window))
    return out


def plot_losses(logs: Path, out: Path, title: str = "") -> Path | None:
    """Draw train and validation loss against the step into ``out``; None when nothing was logged."""
    curves = read_curves(logs)
    if not any(curves.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=110)
    train = curves["train/loss"]
    if train:
        steps = sorted(train)
        values = [train[step] for step in steps]
        axes.plot(steps, values, color="tab:blue", alpha=0.25, linewidth=1)
        axes.plot(steps, moving_average(values, window=9), color="tab:blue", label="train loss (moving average)")
    val = curves["val/loss"]
    if val:
        steps = sorted(val)
        axes.plot(steps, [val[step] for step in steps], "o-", color="tab:orange", markersize=3, label="validation loss")
    axes.set_xlabel("step")
    axes.set_ylabel("loss per target token")
    axes.set_yscale("log")
    axes.grid(True, alpha=0.3)
    axes.legend()
    if title:
        axes.set_title(title)
    figure.tight_layout()
    with atomic_path(out) as temporary:
        figure.savefig(temporary)
    plt.close(figure)
    return out
