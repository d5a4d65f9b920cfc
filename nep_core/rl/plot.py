"""The RL run's PNG: rewards, zero-signal groups and resampling, clipping, entropy and importance
ratios against the step, from the run's CSV logs."""

from __future__ import annotations

from pathlib import Path

from nep_core.atomic_files import atomic_path
from nep_core.training.plot import moving_average, read_curves

PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reward (rollouts)", ("rl/reward", "rl/reward_valid", "rl/reward_match", "rl/reward_calibration", "rl/served_reward", "rl/expected_reward")),
    ("validation (beam search)", ("val/reward", "val/exact", "val/no_edit_precision", "val/no_edit_recall")),
    ("groups", ("rl/zero_signal_fraction", "rl/resample_rounds", "rl/no_edit_share", "rl/invalid_share", "rl/reference_in_beam", "rl/top_probability")),
    ("clipped tokens", ("rl/clip_low", "rl/clip_high")),
    ("nats per token", ("rl/entropy", "rl/sft_loss")),
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

    panels = [(label, names) for label, names in PANELS if any(curves[name] for name in names)]  # beam rollouts log no ratios
    rows = (len(panels) + 1) // 2
    figure, grid = plt.subplots(rows, 2, figsize=(11, 3 * rows), dpi=100, squeeze=False)
    for axes in grid.flat[len(panels):]:
        axes.set_visible(False)
    for axes, (label, names) in zip(grid.flat, panels):
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
        _finish_panel(axes, label)
    return _save(figure, out, title)


def _finish_panel(axes, title: str) -> None:
    """Title, a step axis, a grid, and a legend when something is labelled."""
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("step")
    axes.grid(True, alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=7)


def _save(figure, out: Path, title: str) -> Path:
    import matplotlib.pyplot as plt

    if title:
        figure.suptitle(title)
    figure.tight_layout()
    with atomic_path(out) as temporary:
        figure.savefig(temporary)
    plt.close(figure)
    return out


ABLATION_BARS: tuple[tuple[str, str], ...] = (("rl_reward", "held-out reward"), ("exact_match_top1", "exact match top-1"))
"""The evaluation metrics drawn as grouped bars, one group per arm, by key and label."""


def plot_ablation(rows: list[dict], out: Path, title: str = "") -> Path:
    """Grouped bars of the held-out metrics per arm (``rows[i]["eval"]``), and each trained arm's
    rollout reward against the step (from ``rows[i]["logs"]``), into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (bars, curves) = plt.subplots(1, 2, figsize=(13, 4.8), dpi=100, gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / len(ABLATION_BARS)
    for offset, (key, label) in enumerate(ABLATION_BARS):
        positions = [index + (offset - (len(ABLATION_BARS) - 1) / 2) * width for index in range(len(rows))]
        values = [row["eval"].get(key) or 0.0 for row in rows]
        drawn = bars.bar(positions, values, width, label=label)
        bars.bar_label(drawn, fmt="%.3f", fontsize=6, padding=2)
    bars.set_xticks(range(len(rows)), [row["arm"] for row in rows], rotation=30, ha="right", fontsize=8)
    bars.set_title("held-out split (same examples for every row)", fontsize=10)
    bars.grid(True, axis="y", alpha=0.3)
    bars.margins(y=0.2)
    bars.legend(fontsize=7, loc="upper left", ncols=len(ABLATION_BARS))
    for row in rows:
        if row.get("logs") is None:
            continue
        points = read_curves(Path(row["logs"]), ("rl/reward",))["rl/reward"]
        if points:
            steps = sorted(points)
            curves.plot(steps, moving_average([points[step] for step in steps], window=5), label=row["arm"])
    _finish_panel(curves, "rollout reward (moving average of 5 steps)")
    return _save(figure, out, title)
