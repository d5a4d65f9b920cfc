"""The progress line names what each kind of run validates by."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from nep_core.training.progress import describe_metrics


def _trainer(**metrics):
    return SimpleNamespace(callback_metrics={name.replace("__", "/"): torch.tensor(value) for name, value in metrics.items()})


def test_supervised_training_shows_its_loss_validation_and_speed():
    line = describe_metrics(_trainer(train__loss_smooth=0.5123, val__loss=0.4311, val__token_acc=0.912, train__tokens_per_s=11200.0))
    assert line == "loss 0.512 · val 0.431 (acc 0.912) · 11.2k tok/s"


def test_rl_shows_the_sampled_reward_and_the_held_out_reward_and_exact_match():
    """`nep rl --val-every N` printed no validation figures: they were only in metrics.csv."""
    line = describe_metrics(_trainer(rl__reward=0.3906, val__reward=0.5121, val__exact=0.5))
    assert line == "sampled reward 0.391 · val reward 0.512 (exact 0.500)"
    assert describe_metrics(_trainer(rl__reward=0.25)) == "sampled reward 0.250"
