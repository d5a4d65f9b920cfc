"""`nep train` on the command line: help, and bad input as one clear line without a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from nep_core.errors import NepError
from nep_core.training import TrainConfig, train
from nep_core.training.run import threads_from_environment


def nep(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", *args], capture_output=True, text=True, timeout=timeout
    )


def test_help_explains_options_defaults_and_gives_examples():
    result = nep("train", "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for option in ("--domain", "--data", "--preset", "--max-steps", "--out", "--resume", "--base-model", "--batch-size",
                   "--lr", "--devices", "--num-nodes", "--strategy", "--accelerator", "--precision", "--seed", "--val-every", "--prompt-loss-weight"):
        assert option in text, option
    assert "runs/<domain>" in text and "bf16-mixed" in text and "1000" in text
    assert "nep train --domain blender --max-steps 500" in text


def test_validation_takes_evenly_spread_examples():
    from nep_core.training.run import spread_sample

    assert spread_sample(list(range(10)), 4) == [0, 2, 5, 7]
    assert spread_sample(list(range(3)), 4) == [0, 1, 2] and spread_sample(list(range(10)), 0) == list(range(10))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--domain", "nope"), "unknown domain 'nope'"),
        (("--domain", "tags", "--max-steps", "0"), "--max-steps must be at least 1"),
        (("--domain", "tags", "--preset", "huge"), "unknown preset 'huge'"),
        (("--domain", "tags", "--data", "no/such/folder"), "no such folder"),
        (("--domain", "tags", "--prompt-loss-weight", "-1"), "--prompt-loss-weight must be a finite number >= 0"),
        (("--domain", "tags", "--seed", "-1"), "--seed must be a whole number from 0 to 4294967295 (got -1)"),
        (("--domain", "tags", "--val-examples", "-1"), "--val-examples must be at least 0"),
    ],
)
def test_bad_input_is_one_line_on_stderr(args, message, tmp_path):
    result = nep("train", *args, "--out", str(tmp_path / "run"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


def _fails(config: TrainConfig, message: str) -> None:
    with pytest.raises(NepError) as raised:
        train(config)
    text = str(raised.value)
    assert message in text and "\n" not in text, text


def test_bad_settings_fail_before_any_training(tmp_path):
    out = tmp_path / "run"
    _fails(TrainConfig(domain="tags", out=out, batch_size=0), "--batch-size must be at least 1")
    _fails(TrainConfig(domain="tags", out=out, devices="two"), "--devices must be auto")
    _fails(TrainConfig(domain="tags", out=out, precision="fp8"), "--precision must be one of")
    _fails(TrainConfig(domain="tags", out=out, preset="tiny", base_model=tmp_path), "either --preset or --base-model")
    _fails(TrainConfig(domain="tags", out=out, base_model=tmp_path / "missing"), "no such folder")
    _fails(TrainConfig(domain="tags", out=out, base_model=tmp_path), "no config.json there")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    _fails(TrainConfig(domain="tags", out=out, base_model=tmp_path / "broken"), "unreadable")
    _fails(TrainConfig(domain="tags", out=out, data="synthetic:0"), "no tags sessions")
    _fails(TrainConfig(domain="tags", out=out, resume=True), "nothing to resume")
    assert not out.exists()


def test_a_run_folder_with_a_checkpoint_needs_resume_or_another_out(tmp_path):
    out = tmp_path / "run"
    (out / "lightning").mkdir(parents=True)
    (out / "lightning" / "last.ckpt").write_bytes(b"")
    _fails(TrainConfig(domain="tags", out=out), "pass --resume to continue it, or another --out")
    (out / "lightning" / "run.json").write_text(json.dumps({"domain": "tags", "preset": "small", "base_model": None,
                                                             "data": None, "batch_size": 32, "seed": 0}))
    _fails(TrainConfig(domain="tags", out=out, resume=True), "was started with --preset small, not --preset tiny; resume with --preset small")


def test_an_accelerator_this_machine_lacks_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: --accelerator gpu is not a mistake here")
    result = nep("train", "--domain", "tags", "--accelerator", "gpu", "--max-steps", "2", "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "error: --accelerator gpu --devices auto --strategy auto: No supported gpu backend found!" in result.stderr


def test_an_empty_train_split_is_a_clear_error(tmp_path):
    from nep_core.collector import CollectReport
    from nep_core.examples import split_of
    from nep_core.plugins import get_domain
    from nep_core.sessionlog import write_sessions

    domain = get_domain("tags")
    config = domain.examples
    held_out = [
        session
        for session in domain.collectors["synthetic"].collect("40", CollectReport())
        if split_of(session.source, config.split_fractions, config.seed) != "train"
    ]
    write_sessions(tmp_path / "data", held_out[:2])
    _fails(TrainConfig(domain="tags", out=tmp_path / "run", data=str(tmp_path / "data")), "the train split is empty")


def test_train_from_a_folder_of_logs_with_the_cli(tmp_path):
    """A short real run from `nep collect` output: the summary says where the checkpoint is."""
    data, out = tmp_path / "data", tmp_path / "run"
    collected = nep("collect", "--domain", "tags", "--source", "synthetic:40", "--out", str(data))
    assert collected.returncode == 0, collected.stderr
    result = nep("train", "--domain", "tags", "--data", str(data), "--max-steps", "12", "--val-every", "6",
                 "--val-examples", "5", "--batch-size", "16", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"checkpoint: {out}" in result.stdout and "12 steps" in result.stdout
    assert re.search(r"examples \d+/5 \(validating on 5 of \d+\)", result.stderr), result.stderr
    threads = threads_from_environment() or os.cpu_count()  # OMP_NUM_THREADS (a pytest-xdist worker's share), else every core
    assert f"1 process(es) on cpu ({threads} thread(s) each)" in result.stderr, result.stderr
    assert "step 12/12" in result.stderr  # progress lines when stderr is not a terminal
    for noise in ("GPU available", "Tip:", "litlogger", "LOCAL_RANK", "Loading weights", "Traceback"):
        assert noise not in result.stdout + result.stderr, noise
    meta = json.loads((out / "nep.json").read_text())
    assert meta["data"]["source"] == str(data) and meta["training"]["steps"] == 12
    assert f"next: nep eval --domain tags --model {out} --data {data} --baselines" in result.stdout


@pytest.mark.parametrize(
    ("data", "target", "hint"),
    [
        (None, "action", "next: nep eval --domain tags --model {run} --baselines"),
        ("data/tags", "action", "next: nep eval --domain tags --model {run} --data data/tags --baselines"),
        ("synthetic:40 + data/my tags", "action", "next: nep eval --domain tags --model {run} --data 'synthetic:40 + data/my tags' --baselines"),
        ("data/tags", "location", "next: nep eval --domain tags --model EDIT_MODEL --location-model {run} --data data/tags"),
    ],
)
def test_the_next_command_evaluates_on_the_data_trained_on(tmp_path, capsys, data, target, hint):
    """`nep train --data DIR` suggested `nep eval` without --data: on the domain's default data, not DIR's test split."""
    from nep_core.cli.train import print_summary

    run = tmp_path / "run"
    run.mkdir()
    (run / "nep.json").write_text(json.dumps({"nep": 1, "domain": "tags", "preset": {"name": "tiny"}, "parameters": 1000, "target": target,
                                              "training": {"steps": 12, "tokens": 100, "seconds": 1.0}, "metrics": {}}))
    print_summary(run, data)
    assert hint.format(run=run) in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("data", [None, "data/my tags"])
def test_rls_next_command_evaluates_on_the_data_tuned_on(tmp_path, capsys, data):
    from nep_core.cli.rl import print_summary

    run = tmp_path / "run"
    run.mkdir()
    (run / "nep.json").write_text(json.dumps({"nep": 1, "domain": "tags", "rl": {"steps": 3, "seconds": 1.0, "start_model": "runs/tags"},
                                              "metrics": {}}))
    print_summary(run, data)
    same_data = " --data 'data/my tags'" if data else ""
    assert f"next: nep eval --domain tags --model {run}{same_data} --compare runs/tags --baselines" in capsys.readouterr().out.splitlines()


def test_non_finite_floats_and_out_of_range_seeds_or_threads_fail_before_any_training(tmp_path):
    """`--prompt-loss-weight inf` trained a NaN model; `--seed -1` was a ValueError traceback after the run folder was started;
    `--threads 100000` made OpenMP crash."""
    out = tmp_path / "run"
    quick = {"domain": "tags", "out": out, "data": "synthetic:20", "preset": "tiny", "max_steps": 2, "val_every": 2, "progress": False}
    _fails(TrainConfig(**quick, prompt_loss_weight=float("inf")), "--prompt-loss-weight must be a finite number >= 0 (got inf)")
    _fails(TrainConfig(**quick, prompt_loss_weight=float("nan")), "--prompt-loss-weight must be a finite number >= 0 (got nan)")
    _fails(TrainConfig(**quick, weight_decay=float("inf")), "weight_decay must be a finite number >= 0 (got inf)")
    _fails(TrainConfig(**quick, grad_clip=float("nan")), "grad_clip must be a finite number >= 0 (got nan)")
    _fails(TrainConfig(**quick, learning_rate=float("nan")), "--lr must be a positive finite number (got nan)")
    _fails(TrainConfig(**quick, seed=-1), "--seed must be a whole number from 0 to 4294967295 (got -1)")
    _fails(TrainConfig(**quick, seed=99999999999999), "--seed must be a whole number from 0 to 4294967295 (got 99999999999999)")
    _fails(TrainConfig(**quick, threads=100000), "--threads must be from 1 to 1024 (got 100000)")
    assert not out.exists()
    TrainConfig(**quick, seed=2**32 - 1, threads=1024, prompt_loss_weight=0.5).validate()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "bogus", "accelerator": "cpu"}, "--strategy/--devices/--accelerator: You selected an invalid strategy name"),
        ({"strategy": "fsdp", "accelerator": "cpu"}, "--strategy/--devices/--accelerator: The strategy `fsdp` requires a GPU accelerator"),
        ({"devices": "0,0", "accelerator": "cpu"}, "--strategy/--devices/--accelerator: `devices` selected with `CPUAccelerator`"),
    ],
)
def test_a_strategy_or_devices_lightning_refuses_is_one_line_naming_the_options(options, message, tmp_path):
    """These were a ValueError or TypeError traceback from the Lightning Trainer."""
    from nep_core.training.run import make_trainer
    from nep_core.training.run_folder import RunFolder

    config = TrainConfig(domain="tags", max_steps=2, progress=False, **options)
    config.validate()
    with pytest.raises(NepError) as raised:
        make_trainer(config, RunFolder(tmp_path / "run"), "32-true", validate=True)
    assert message in str(raised.value) and "\n" not in str(raised.value), raised.value


def test_joined_copied_and_collector_sources_are_not_taken_for_missing_folders(tmp_path):
    """`--data 'DIR * 2'`, `'DIR + DIR'` failed with `no such folder`, though `nep eval` and `nep rl` take them."""
    from nep_core.collector import CollectReport
    from nep_core.plugins import get_domain
    from nep_core.sessionlog import write_sessions
    from nep_core.training.run import plan_run

    data = tmp_path / "data"
    write_sessions(data, list(get_domain("tags").collectors["synthetic"].collect("3", CollectReport())))
    for source in (f"{data} * 2", f"{data} + {data}", f"synthetic:5 + {data} * 3", "synthetic:5 * 2"):
        plan = plan_run(TrainConfig(domain="tags", data=source, out=tmp_path / "run", max_steps=2, progress=False))
        assert plan.config.data == source
    _fails(TrainConfig(domain="tags", out=tmp_path / "run", data=f"{data} + {tmp_path / 'gone'} * 2"),
           f"--data {tmp_path / 'gone'}: no such folder")
    _fails(TrainConfig(domain="tags", out=tmp_path / "run", data=f"bogus:3 + {data}"), "unknown source 'bogus:3' for domain 'tags'")
    assert not (tmp_path / "run").exists()


def test_a_run_whose_loss_is_nan_says_it_diverged_and_exports_no_model(tmp_path):
    """`--lr 1e30` trained a NaN model, exported it and exited 0 (`validation: loss nan`)."""
    out = tmp_path / "run"
    result = nep("train", "--domain", "tags", "--data", "synthetic:20", "--preset", "tiny", "--lr", "1e30", "--max-steps", "2",
                 "--val-every", "2", "--quiet", "--out", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: training diverged (") and "lower --lr" in lines[-1], result.stderr
    assert "validation:" not in result.stdout and not (out / "nep.json").exists()
    assert (out / "lightning" / "last.ckpt").exists()  # the run's state stays, as after any other stop


def test_quiet_leaves_out_the_progress_but_not_what_the_data_reader_skipped(tmp_path):
    """`nep train -q` printed no warning about skipped lines and files: they went through the progress printer."""
    from nep_core.collector import CollectReport
    from nep_core.plugins import get_domain
    from nep_core.session import Session
    from nep_core.sessionlog import write_session, write_sessions

    data, out = tmp_path / "data", tmp_path / "run"
    write_sessions(data, list(get_domain("tags").collectors["synthetic"].collect("30", CollectReport())))
    damaged = sorted(data.glob("*.jsonl"))[0]
    lines = damaged.read_text().splitlines(keepends=True)
    damaged.write_text(lines[0] + "{not json\n" + "".join(lines[1:]))
    other = write_session(data / "zz-other.jsonl", Session(id="other", domain="krita"))
    result = nep("train", "--domain", "tags", "--data", str(data), "--preset", "tiny", "--max-steps", "2", "--val-every", "2",
                 "--batch-size", "16", "-q", "--out", str(out))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.replace("\n ", " ").splitlines() if line.strip()]
    assert len(warnings) == 2, result.stderr
    assert warnings[0].startswith(f"warning: {damaged}:2: not valid JSON") and warnings[0].endswith("; line skipped"), warnings
    assert warnings[1] == f"warning: {other}:1: session of domain 'krita', expected 'tags'; file skipped", warnings
    assert "trained tags" in result.stdout and "step " not in result.stderr
    assert json.loads((out / "nep.json").read_text())["data"]["warnings"] == 2


def test_an_out_under_a_file_is_the_one_line_error_collect_gives(tmp_path):
    """`nep train --out afile/sub` was `error: afile/sub/lightning: Not a directory`, status 1, after the data was read."""
    afile = tmp_path / "afile"
    afile.write_text("")
    for command in (("train", "--domain", "tags", "--data", "synthetic:20", "--preset", "tiny", "--max-steps", "2"),
                    ("collect", "--domain", "tags", "--source", "synthetic:2")):
        result = nep(*command, "--out", str(afile / "sub"))
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == f"error: --out {afile / 'sub'} cannot be made: {afile} is a file; pass a folder", result.stderr
    assert afile.read_text() == ""


def test_an_output_folder_left_empty_goes_with_the_parents_made_for_it(tmp_path):
    """A run stopped before writing into its --out removed the folder but not the parents it had made for it:
    `nep train --domain D` interrupted while it read its data left an empty `runs/` behind."""
    from nep_core.output_folders import output_folder

    with pytest.raises(KeyboardInterrupt):
        with output_folder(tmp_path / "runs" / "deeper" / "tags", "--out"):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []

    (tmp_path / "runs").mkdir()
    with output_folder(tmp_path / "runs" / "deeper" / "tags", "--out"):
        (tmp_path / "runs" / "notes.txt").write_text("mine")  # something else in a parent it made keeps the parent
        (tmp_path / "runs" / "deeper" / "other").mkdir()
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["deeper", "notes.txt"]
    assert [path.name for path in (tmp_path / "runs" / "deeper").iterdir()] == ["other"]

    with output_folder(tmp_path / "out" / "run", "--out") as made:
        (made / "written").write_text("")
    assert (tmp_path / "out" / "run" / "written").exists()
