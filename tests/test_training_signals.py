"""SIGTERM stops `nep train` and `nep rl` as Ctrl-C does: at once before training, after the step during it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest
import torch
from signal_helpers import signal_while_reading, waiting_log


def nep_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nep_core.cli.main", *args]


@pytest.mark.parametrize("command", ["train", "rl"])
def test_sigterm_while_the_data_is_read_stops_at_once_and_leaves_no_folder(command, tmp_path, tags_domain):
    """SIGTERM while the data was read killed `nep train` raw (status -15, no message) and left an empty --out
    folder: only Lightning's handler, during the fit, answered it."""
    from inference_helpers import save_random_checkpoint

    logs = tmp_path / "logs"
    pipe = waiting_log(logs)
    out = tmp_path / "runs" / "out"
    args = {
        "train": ["train", "--domain", "tags", "--data", str(logs), "--preset", "tiny", "--max-steps", "2", "--out", str(out)],
        "rl": ["rl", "--domain", "tags", "--model", str(save_random_checkpoint(tmp_path / "model", tags_domain)), "--data", str(logs),
               "--max-steps", "2", "--out", str(out)],
    }[command]
    returncode, stderr = signal_while_reading(args, pipe, signal.SIGTERM)
    assert returncode == 130, (returncode, stderr)
    assert stderr.strip() == "interrupted", stderr
    assert not (tmp_path / "runs").exists()  # nor the folder made for the output, nor its parent


def test_sigterm_during_training_finishes_the_step_and_saves(tmp_path):
    """During the fit Lightning's handler answers SIGTERM (the one `nep train` sets before it must not stop the step)."""
    out = tmp_path / "run"
    args = ["train", "--domain", "tags", "--data", "synthetic:60", "--max-steps", "400", "--val-every", "5",
            "--batch-size", "16", "--threads", "1", "--out", str(out)]
    process = subprocess.Popen(nep_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logged = 0
    for line in process.stderr:  # one progress line per validation when stderr is not a terminal
        match = re.match(r"step (\d+)/400", line)
        if match:
            logged = int(match.group(1))
            break
    assert logged, "training never reported progress"
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    stopped = int(re.search(r"training stopped at step (\d+) of 400", stderr).group(1))
    state = torch.load(out / "lightning" / "on_exception.ckpt", map_location="cpu", weights_only=False)
    assert logged <= stopped == state["global_step"]  # whole steps only
