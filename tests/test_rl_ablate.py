"""`nep rl --ablate`: the grid of arms, real runs evaluated like `nep eval`, the report files, resuming, refusals."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from nep_core.errors import NepError
from nep_core.rl.ablate import TRICKS, ablation_arms, select_arms
from nep_core.rl.config import PolicySettings

RUN = ["--domain", "tags", "-b", "4", "-G", "4", "--val-every", "2", "--val-examples", "4", "--limit", "24"]
"""Small settings shared by every ablation run here: 4 prompts x 4 samples, 24 test examples."""


def nep(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "nep_core.cli.main", *args], capture_output=True, text=True, timeout=600, env=env)


def test_the_grid_has_one_arm_per_trick_that_changes_the_bundle():
    arms = ablation_arms(PolicySettings(), token_limit=16)
    assert [arm.name for arm in arms] == [
        "full-bundle", "clip-higher-off", "dynamic-sampling-off", "tis-off", "scale-rewards-none", "loss-grpo", "kl-on", "overlong-on",
        "baseline-served", "positive-only",
    ]
    changes = {arm.name: arm.changes for arm in arms}
    assert changes == {
        "full-bundle": {},
        "clip-higher-off": {"epsilon_high": 0.2},
        "dynamic-sampling-off": {"dynamic_sampling": False},
        "tis-off": {"tis_cap": None},
        "scale-rewards-none": {"scale_rewards": "none"},
        "loss-grpo": {"loss_type": "grpo"},
        "kl-on": {"beta": 0.04},
        "overlong-on": {"overlong_buffer": 4},
        "baseline-served": {"baseline": "served"},
        "positive-only": {"negative_weight": 0.0},
    }
    for arm in arms:  # each arm is the bundle with only its own change
        assert arm.policy == PolicySettings(**arm.changes)

    # a bundle that already has most tricks off gets only the arms that differ from it: KL and overlong switched off
    bundle = PolicySettings(
        loss_type="grpo", epsilon_high=0.2, dynamic_sampling=False, tis_cap=None, scale_rewards="none", beta=0.1, overlong_buffer=3,
        baseline="served", negative_weight=0.0,
    )
    arms = ablation_arms(bundle, token_limit=16)
    assert [(arm.name, arm.changes) for arm in arms] == [
        ("full-bundle", {}), ("kl-off", {"beta": 0.0}), ("overlong-off", {"overlong_buffer": None}), ("baseline-group", {"baseline": "group"}),
        ("negatives-plain", {"negative_weight": 1.0}),
    ]
    # weighing negatives more (W-REINFORCE's emphasis) is compared with the plain gradient, not with PSR
    assert [arm.name for arm in ablation_arms(PolicySettings(negative_weight=3.0), token_limit=16)][-1] == "negatives-plain"


def test_arm_names_are_checked_against_the_bundle():
    arms = ablation_arms(PolicySettings(), token_limit=16)
    assert [arm.name for arm in select_arms(arms, ["kl-on", "tis-off"])] == ["full-bundle", "tis-off", "kl-on"]
    with pytest.raises(NepError, match="no arm 'nope'; valid arms for these settings: clip-higher-off, dynamic-sampling-off, tis-off"):
        select_arms(arms, ["nope"])
    with pytest.raises(NepError, match="no arm 'kl-off' \\(it changes nothing in these settings\\)"):
        select_arms(arms, ["kl-off"])


def _last_logged(folder, name: str) -> float:
    values = []
    for path in sorted((folder / "logs").glob("**/metrics.csv")):
        with open(path, newline="") as handle:
            values += [(int(row["step"]), float(row[name])) for row in csv.DictReader(handle) if row.get(name)]
    return max(values)[1]


def test_ablate_trains_each_arm_evaluates_like_nep_eval_and_only_completes_on_rerun(trained_tags_model, tmp_path):
    out = tmp_path / "ablation"
    first = nep("rl", "--model", str(trained_tags_model), "--out", str(out), "--max-steps", "2", "--ablate", "--ablate-arms", "loss-grpo,kl-on", *RUN)
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("1 process(es) on cpu (") == 3, first.stderr  # the full bundle and the two arms, with their threads
    for name in ("ablation.json", "ablation.md", "ablation.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "ablation.png").stat().st_size > 10_000

    report = json.loads((out / "ablation.json").read_text())
    rows = {row["arm"]: row for row in report["rows"]}
    assert list(rows) == ["sft", "full-bundle", "loss-grpo", "kl-on"]
    assert report["examples"] == 24 and report["split"] == "test"
    # each arm is a real nep rl run with its own settings, recorded in the report and in its checkpoint
    assert rows["loss-grpo"]["changes"] == {"loss_type": "grpo"} and rows["loss-grpo"]["policy"]["loss_type"] == "grpo"
    assert rows["kl-on"]["changes"] == {"beta": 0.04} and rows["kl-on"]["policy"]["beta"] == 0.04
    assert rows["full-bundle"]["policy"]["loss_type"] == "dapo" and rows["full-bundle"]["policy"]["beta"] == 0.0
    for name in ("full-bundle", "loss-grpo", "kl-on"):
        folder = out / name
        meta = json.loads((folder / "nep.json").read_text())
        assert meta["rl"]["policy"] == rows[name]["policy"] and meta["rl"]["steps"] == 2
        training = rows[name]["training"]
        assert training["steps"] == 2 and training["train_seconds"] > 0
        assert training["reward"] == pytest.approx(_last_logged(folder, "rl/reward"))
        assert 0 <= training["zero_signal_fraction"] <= 1 and 0 <= training["clip_low"] <= 1 and 0 <= training["clip_high"] <= 1
    assert rows["sft"]["training"] is None
    for row in rows.values():
        metrics = row["eval"]
        assert metrics["examples"] == 24
        for key in ("exact_match_top1", "no_edit_precision", "no_edit_recall", "validity_rate", "rl_reward_valid"):
            assert metrics[key] is None or 0 <= metrics[key] <= 1, key
        assert -0.25 <= metrics["rl_reward"] <= 1.5  # the default weights' bounds
        assert row["delta_vs_bundle"]["exact_match_top1"] == pytest.approx(metrics["exact_match_top1"] - rows["full-bundle"]["eval"]["exact_match_top1"])

    # the numbers are nep eval's on the same examples
    evaluated = nep("eval", "--domain", "tags", "--model", str(out / "loss-grpo"), "--compare", str(trained_tags_model), "--limit", "24", "--json", str(tmp_path / "eval.json"))
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads((tmp_path / "eval.json").read_text())["results"]
    for key in ("exact_match_top1", "no_edit_precision", "no_edit_recall", "validity_rate", "verifier.nesting.mean_reward"):
        assert rows["loss-grpo"]["eval"][key] == results["model"][key], key
        assert rows["sft"]["eval"][key] == results[trained_tags_model.name][key], key

    table = (out / "ablation.md").read_text()
    for name in rows:
        assert f"| {name} |" in table
    assert "| loss-grpo | loss_type=grpo |" in table and "| kl-on | beta=0.04 |" in table
    assert "held-out reward" in first.stdout and "kl-on" in first.stdout  # the table, printed

    # a rerun trains nothing and evaluates nothing again; it rewrites the report
    checkpoints = {name: (out / name / "model.safetensors").stat().st_mtime_ns for name in ("full-bundle", "loss-grpo", "kl-on")}
    report_written = (out / "ablation.md").stat().st_mtime_ns
    again = nep("rl", "--model", str(trained_tags_model), "--out", str(out), "--max-steps", "2", "--ablate", "--ablate-arms", "loss-grpo,kl-on", *RUN)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("not rerun") == 3 and "evaluating" not in again.stderr
    assert {name: (out / name / "model.safetensors").stat().st_mtime_ns for name in checkpoints} == checkpoints
    assert (out / "ablation.md").stat().st_mtime_ns > report_written
    assert json.loads((out / "ablation.json").read_text())["rows"] == report["rows"]

    # more steps: the chosen arms resume as nep rl --resume does; the arm left out is untouched
    longer = nep("rl", "--model", str(trained_tags_model), "--out", str(out), "--max-steps", "3", "--ablate", "--ablate-arms", "loss-grpo", *RUN)
    assert longer.returncode == 0, longer.stderr
    assert longer.stderr.count(": resuming (") == 2
    rows = {row["arm"]: row for row in json.loads((out / "ablation.json").read_text())["rows"]}
    assert list(rows) == ["sft", "full-bundle", "loss-grpo"] and rows["loss-grpo"]["training"]["steps"] == 3
    assert (out / "loss-grpo" / "logs" / "version_1").is_dir()
    assert (out / "kl-on" / "model.safetensors").stat().st_mtime_ns == checkpoints["kl-on"]

    # other settings in the same folder would mix runs: refused in one line
    other = nep("rl", "--model", str(trained_tags_model), "--out", str(out), "--max-steps", "3", "--lr", "1e-4", "--ablate", *RUN)
    assert other.returncode != 0 and "Traceback" not in other.stderr
    assert "full-bundle holds a run with other settings (learning_rate 5e-05 -> 0.0001)" in other.stderr


@pytest.mark.parametrize("args, message", [
    (["--ablate", "--ablate-arms", "loss-grpo,nope"], "--ablate-arms: no arm 'nope'; valid arms for these settings: clip-higher-off,"),
    (["--ablate", "--ablate-arms", "kl-off"], "no arm 'kl-off' (it changes nothing in these settings)"),
    (["--ablate-arms", "loss-grpo"], "--ablate-arms applies only with --ablate"),
    (["--ablate", "--rollouts", "beam"], "--ablate switches the tricks of sampled rollouts, which --rollouts beam does not use"),
    (["--limit", "10"], "--limit applies only with --ablate"),
    (["--ablate", "--limit", "-1"], "--limit must be 0 (all) or a positive number, got -1"),
    (["--ablate", "--ablate-arms", " , "], "--ablate-arms ' , ' names no arm; pass arm names separated by commas"),
])
def test_ablate_refuses_bad_input_in_one_line(args, message, trained_tags_model, tmp_path):
    result = nep("rl", "--domain", "tags", "--model", str(trained_tags_model), "--out", str(tmp_path / "ablation"), *args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "ablation").exists()


def test_help_teaches_the_ablation():
    result = nep("rl", "--help")
    assert result.returncode == 0
    for text in ("--ablate", "--ablate-arms", "--limit", "ablation.md", "nep rl --domain code --model runs/code --max-steps 40 --ablate"):
        assert text in result.stdout, text
    for trick in TRICKS:  # every arm name is listed
        assert trick.name in result.stdout, trick.name
