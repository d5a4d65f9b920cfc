"""How many CPU threads a training process uses: ``--threads``, else ``OMP_NUM_THREADS``, else its share of the cores."""

from __future__ import annotations

import os

import pytest
import torch

from nep_core.training import TrainConfig
from nep_core.training.run import cpu_threads


def threads_inside(config: TrainConfig) -> int:
    with cpu_threads(config):
        return torch.get_num_threads()


@pytest.mark.parametrize("value, expected", [("3", 3), (" 1 ", 1), ("3,2", 3), ("0", None), ("-2", None), ("many", None), ("\u00b2", None),
                                             ("", None)])
def test_omp_num_threads_sets_the_default_when_it_is_a_positive_number(monkeypatch, value, expected):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    config = TrainConfig(domain="tags", accelerator="cpu", devices="1")
    before = torch.get_num_threads()
    assert threads_inside(config) == (expected or os.cpu_count() or 1)  # else the cores of this machine, for one process
    assert torch.get_num_threads() == before  # restored after


def test_the_threads_option_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads_inside(TrainConfig(domain="tags", accelerator="cpu", devices="1", threads=2)) == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert threads_inside(TrainConfig(domain="tags", accelerator="cpu", devices="2")) == max(1, (os.cpu_count() or 1) // 2)
