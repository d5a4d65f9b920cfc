"""Two-process DDP on the CPU (gloo) through `nep train`: one checkpoint, written once, that loads."""

from __future__ import annotations

import json
import subprocess
import sys

import torch


def test_two_process_ddp_on_cpu_writes_one_checkpoint(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "nep_core.cli.main", "train", "--domain", "tags", "--data", "synthetic:40",
               "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--max-steps", "20", "--val-every", "10",
               "--batch-size", "8", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "2 process(es) on cpu" in result.stderr
    assert result.stdout.count("trained tags") == 1  # the summary comes from rank 0 only

    meta = json.loads((out / "nep.json").read_text())
    assert meta["training"]["world_size"] == 2 and meta["training"]["steps"] == 20
    assert meta["metrics"]["val_loss"] > 0
    exported = sorted(path.name for path in out.iterdir() if path.is_file())
    assert exported == sorted(["config.json", "generation_config.json", "model.safetensors", "nep.json",
                               "tokenizer.json", "tokenizer_config.json", "loss.png"]), exported
    assert sorted(path.name for path in (out / "lightning").iterdir()) == ["last.ckpt", "run.json"]
    assert len(list((out / "logs").glob("version_*"))) == 1

    from nep_core.checkpoint import load_checkpoint

    loaded = load_checkpoint(out, expected_domain="tags")
    state = torch.load(out / "lightning" / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["global_step"] == 20
    for name, tensor in loaded.model.state_dict().items():  # the export is the trained model in the checkpoint
        assert torch.equal(tensor, state["state_dict"][f"model.{name}"]), name


def test_two_process_ddp_rl_on_cpu_trains_in_step_and_writes_one_checkpoint(trained_tags_model, tmp_path):
    """Each rank samples, resamples zero-signal groups as often as it needs and judges its own prompts; the
    ranks must still meet at every gradient all-reduce (a collective inside resampling would hang)."""
    import csv

    out = tmp_path / "rl"
    command = [sys.executable, "-m", "nep_core.cli.main", "rl", "--domain", "tags", "--model", str(trained_tags_model),
               "--data", "synthetic:40", "--accelerator", "cpu", "--devices", "2", "--max-steps", "6", "--val-every", "3",
               "--batch-size", "4", "--num-generations", "4", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "2 process(es) on cpu" in result.stderr
    assert result.stdout.count("rl tags:") == 1  # the summary comes from rank 0 only
    meta = json.loads((out / "nep.json").read_text())
    assert meta["rl"]["world_size"] == 2 and meta["rl"]["steps"] == 6
    rows = list(csv.DictReader(open(out / "logs" / "version_0" / "metrics.csv")))
    assert {int(row["step"]) for row in rows if row.get("rl/reward")} == set(range(6))
    state = torch.load(out / "lightning" / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["global_step"] == 6


def test_several_machines_say_where_they_wait_for_each_other(tmp_path, monkeypatch):
    """`--num-nodes 2` on one machine used to wait for the other machine without a word."""
    from nep_core.training.config import TrainConfig
    from nep_core.training.run import make_trainer, waiting_for_nodes
    from nep_core.training.run_folder import RunFolder

    monkeypatch.setenv("MASTER_ADDR", "10.0.0.5")
    monkeypatch.setenv("MASTER_PORT", "29512")
    monkeypatch.setenv("NODE_RANK", "1")
    config = TrainConfig(domain="tags", num_nodes=2, accelerator="cpu", devices=1, strategy="ddp", max_steps=2, out=tmp_path)
    trainer = make_trainer(config, RunFolder(tmp_path), "32-true", validate=False)
    assert waiting_for_nodes(trainer) == (
        "waiting for 2 machines to join at 10.0.0.5:29512 (this is NODE_RANK 1); run the same command on every machine with "
        "NODE_RANK 0..1 and the same MASTER_ADDR (an address of NODE_RANK 0 the others reach) and MASTER_PORT"
    )
    alone = make_trainer(TrainConfig(domain="tags", accelerator="cpu", max_steps=2, out=tmp_path), RunFolder(tmp_path), "32-true", validate=False)
    assert waiting_for_nodes(alone) is None
