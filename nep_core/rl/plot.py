"""The RL run's PNG: rewards, zero-signal groups and resampling, clipping, entropy and importance
ratios against the step, from the run's CSV logs."""

from __future__ import annotations

from pathlib import Path

from nep_core.training.plot import moving_average, read_curves

PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reward (rollouts)", ("rl/reward", "rl/reward_valid", "rl/reward_match", "rl/reward_calibration")),
    ("validation (beam search)", ("val/reward", "val/exact", "val/no_edit_precision", "val/no_edit_recall")),
    ("groups", ("rl/zero_signal_fraction", "rl/resample_rounds", "rl/no_edit_share", "rl/invalid_share")),
    ("clipped tokens", ("rl/clip_low", "rl/clip_high")),
    ("entropy per token", ("rl/entropy",)),
    ("ratios", ("rl/ratio_mean", "rl/ratio_max", "rl/is_weight_mean", "rl/is_weight_min", "rl/kl")),
)


def plot_rl(logs: Path, out: Path, title: str = "") -> Path | None:
    """Draw the RL metrics into ``out``; None when nothing was logged."""
    curves = read_curves(logs, [name for _, names in PANELS for name in names])
    if not any(curves.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, grid = plt.subplots(3, 2, figsize=(11, 9), dpi=100)
    for axes, (label, names) in zip(grid.flat, PANELS):
        for name in names:
            points = curves[name]
            if not points:
                continue
            steps = sorted(points)
            values = [points[step] for step in steps]
            if name.startswith("val/"):
                axes.plot(steps, values, "o-", markersize=3, label=name)
            else:
                axes.plot(steps, moving_average(values, window=5), label=name)
        axes.set_title(label, fontsize=10)
        axes.set_xlabel("step")
        axes.grid(True, alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=7)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)
    return out
