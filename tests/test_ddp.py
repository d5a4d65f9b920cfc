"""Two-process DDP on the CPU (gloo) through `nep train`: one checkpoint, written once, that loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
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

    # validation covers every held-out example, not the half each process decodes: the last one (step 6) is
    # recomputed here, in one process, with the exported model
    from nep_core.checkpoint import load_checkpoint
    from nep_core.evaluation.evaluate import sample_evenly
    from nep_core.inference.baselines import canonical_action
    from nep_core.inference.decoder import DecodeSettings, ModelPredictor
    from nep_core.plugins import get_domain
    from nep_core.rl.rewards import RewardWeights, VerifierRewards
    from nep_core.training.run import prepare_data

    domain = get_domain("tags")
    val = sample_evenly(prepare_data(domain, "synthetic:40", lambda message: None).examples["val"], 64)
    predictor = ModelPredictor(load_checkpoint(out, "tags"), domain, DecodeSettings(reuse_prefix=False))
    served = [predictor.predict(example.context, k=1).best for example in val]
    exact = sum(action == canonical_action(example.target, domain.action_space) for action, example in zip(served, val)) / len(val)
    rewards = VerifierRewards(domain, RewardWeights(**meta["rl"]["policy"]["rewards"]))
    reward = sum(part.total for part in rewards.score([(e.context, a, e.target) for e, a in zip(val, served)])) / len(val)
    assert meta["rl"]["validation"]["examples"] == len(val) > 2
    assert meta["metrics"]["val_exact_match"] == pytest.approx(exact, abs=1e-4)
    assert meta["metrics"]["val_reward"] == pytest.approx(reward, abs=1e-4)
    assert f"validation ({len(val)} examples), step 0 -> 6:" in result.stdout


def test_two_process_rl_resumed_between_steps_on_the_same_rollouts_goes_on_as_the_run_would_have(trained_tags_model, tmp_path):
    """With --num-iterations 2 a step reuses the rollouts of the one before, each process its own: a run resumed
    between the two goes on with every process's rollouts (and sampler state), not rank 0's alone."""
    import csv

    base = [sys.executable, "-m", "nep_core.cli.main", "rl", "--domain", "tags", "--model", str(trained_tags_model),
            "--data", "synthetic:40", "--accelerator", "cpu", "--devices", "2", "--val-every", "100", "--val-examples", "4",
            "--batch-size", "4", "--num-generations", "4", "--num-iterations", "2", "--quiet"]
    for extra in (["--max-steps", "4", "--out", str(tmp_path / "whole")], ["--max-steps", "3", "--out", str(tmp_path / "parts")],
                  ["--max-steps", "4", "--out", str(tmp_path / "parts"), "--resume"]):
        result = subprocess.run(base + extra, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr

    def by_step(folder):
        rows = [row for path in sorted((folder / "logs").glob("*/metrics.csv")) for row in csv.DictReader(open(path))]
        return {int(row["step"]): [float(row[name]) for name in ("rl/reward", "rl/ratio_max", "rl/loss")] for row in rows if row.get("rl/reward")}

    whole, parts = by_step(tmp_path / "whole"), by_step(tmp_path / "parts")
    assert sorted(whole) == sorted(parts) == [0, 1, 2, 3]
    for step in whole:
        assert parts[step] == pytest.approx(whole[step], abs=1e-5), step
    from nep_core.checkpoint import load_checkpoint

    tuned = load_checkpoint(tmp_path / "parts", "tags").model.state_dict()
    for name, tensor in load_checkpoint(tmp_path / "whole", "tags").model.state_dict().items():
        assert torch.allclose(tuned[name], tensor, atol=1e-6), name


def test_too_few_batches_for_the_processes_is_said_once_with_its_cause(trained_tags_model, tmp_path):
    """Each process printed '... make no batch of N prompts; lower --batch-size', though N was fine: the
    prompts, split across the processes, left one of them without a batch."""
    from nep_core.plugins import get_domain
    from nep_core.training.run import prepare_data

    prompts = len(prepare_data(get_domain("tags"), "synthetic:40", lambda message: None).examples["train"])
    command = [sys.executable, "-m", "nep_core.cli.main", "rl", "--domain", "tags", "--model", str(trained_tags_model),
               "--data", "synthetic:40", "--accelerator", "cpu", "--devices", "2", "--max-steps", "2", "--batch-size", str(prompts),
               "--out", str(tmp_path / "rl")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    message = (f"the {prompts} training prompts make 1 batch(es) of {prompts}, fewer than the 2 processes (--devices), each of which "
               f"needs its own batch; pass --batch-size {prompts // 2} or less")
    assert result.stderr.count("error:") == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "rl").exists()


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
