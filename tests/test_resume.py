"""An interrupted `nep train` resumes and loses no finished step."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import signal
import subprocess
import sys

import pytest
import torch


def nep_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "nep_core.cli.main", *args]


def test_ctrl_c_saves_and_resume_continues_from_the_same_step(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--domain", "tags", "--data", "synthetic:60", "--max-steps", "200", "--val-every", "10",
            "--batch-size", "16", "--threads", "1", "--out", str(out)]
    process = subprocess.Popen(nep_command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logged = 0
    for line in process.stderr:  # one progress line per validation when stderr is not a terminal
        match = re.match(r"step (\d+)/200", line)
        if match and int(match.group(1)) >= 30:
            logged = int(match.group(1))
            break
    assert logged >= 30, "training never reported progress"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    stopped = int(re.search(r"training stopped at step (\d+) of 200", stderr).group(1))
    assert logged <= stopped < 200 and "--resume" in stderr

    saved = out / "lightning" / "on_exception.ckpt"
    state = torch.load(saved, map_location="cpu", weights_only=False)
    assert state["global_step"] == stopped  # the first Ctrl-C lets the step finish, so whole steps only
    (sampler_state,) = state["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    assert sampler_state["position"] == state["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["completed"]
    assert not (out / "nep.json").exists()  # an interrupted run is not a finished checkpoint

    again = subprocess.run(nep_command(*args), capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "pass --resume" in again.stderr and "Traceback" not in again.stderr

    resumed = subprocess.run(nep_command(*args, "--resume", "--val-every", "100"), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {saved}" in resumed.stderr and "200 steps" in resumed.stdout
    meta = json.loads((out / "nep.json").read_text())
    assert meta["training"]["steps"] == 200
    final = torch.load(out / "lightning" / "last.ckpt", map_location="cpu", weights_only=False)
    assert final["global_step"] == 200
    assert not saved.exists()  # a clean finish removes the interruption checkpoint

    first_run = [int(row["step"]) for row in csv.DictReader(open(out / "logs" / "version_0" / "metrics.csv"))]
    second_run = [int(row["step"]) for row in csv.DictReader(open(out / "logs" / "version_1" / "metrics.csv"))]
    assert max(first_run) <= stopped <= min(second_run) + 1 and max(second_run) >= 199  # Lightning logs at step - 1


def test_a_new_run_goes_into_a_new_empty_or_unfinished_folder_only(tmp_path):
    from nep_core.errors import NepError
    from nep_core.training.run_folder import RunFolder

    RunFolder(tmp_path / "new").check_fresh()
    hidden = tmp_path / "kept"
    hidden.mkdir()
    (hidden / ".gitkeep").write_text("")  # hidden files are no one's run
    RunFolder(hidden).check_fresh()
    unfinished = RunFolder(tmp_path / "unfinished")  # a start that stopped before its first checkpoint
    unfinished.lightning.mkdir(parents=True)
    unfinished.run_file.write_text("{}")
    (unfinished.root / "tokenizer.json").write_text("{}")
    unfinished.check_fresh()
    with pytest.raises(NepError, match="is the model this run starts from"):
        RunFolder(tmp_path / "model").check_fresh(starts_from=tmp_path / "model" / ".." / "model")
    exported = tmp_path / "exported"
    exported.mkdir()
    (exported / "nep.json").write_text("{}")
    with pytest.raises(NepError, match="holds a NEP model without its run state"):
        RunFolder(exported).check_fresh()
    finished = RunFolder(tmp_path / "finished")  # a finished run whose checkpoints were deleted to free the disk
    finished.lightning.mkdir(parents=True)
    finished.run_file.write_text("{}")
    (finished.root / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(NepError, match="holds a NEP model without its run state"):
        finished.check_fresh()  # it used to be cleared and overwritten
    (exported / "nep.json").unlink()
    (exported / "notes.txt").write_text("mine")
    with pytest.raises(NepError, match=r"is not empty \(notes.txt\) and is not a NEP run"):
        RunFolder(exported).check_fresh()


def test_resume_refuses_a_cut_short_checkpoint_or_fewer_steps_than_done_in_one_line(tmp_path):
    """Both used to end in a traceback from inside Lightning, or in exit 0 with nothing trained."""
    import os

    from nep_core.errors import NepError
    from nep_core.training import TrainConfig, train

    out = tmp_path / "run"
    config = TrainConfig(domain="tags", preset="tiny", data="synthetic:40", max_steps=4, val_every=4, batch_size=8,
                         out=out, threads=1, progress=False)
    train(config)
    last, spare = out / "lightning" / "last.ckpt", out / "lightning" / "on_exception.ckpt"
    with pytest.raises(NepError, match=re.escape(f"{out} has already trained 4 steps, so --max-steps 2 leaves nothing to train; "
                                                 "pass --max-steps above 4 to train more")):
        train(dataclasses.replace(config, max_steps=2, resume=True))

    spare.write_bytes(last.read_bytes())
    os.utime(spare, (1, 1))  # older, so last.ckpt is still the one to resume from
    last.write_bytes(last.read_bytes()[:5000])  # a crash or a full disk cut the newest one short
    more = dataclasses.replace(config, max_steps=6, resume=True)
    with pytest.raises(NepError) as raised:
        train(more)
    assert str(raised.value).startswith(f"{last}: cannot be read as a training checkpoint, it may be cut short or corrupt (")
    assert str(raised.value).endswith("; on_exception.ckpt (step 4) can be: move last.ckpt away and resume again")
    last.unlink()  # as the message says
    train(more)
    assert json.loads((out / "nep.json").read_text())["training"]["steps"] == 6

    last.write_bytes(b"not a checkpoint")
    with pytest.raises(NepError, match="cut short or corrupt .*; start a new run with another --out"):
        train(dataclasses.replace(config, max_steps=8, resume=True))


class _RunsCodeWhenUnpickled:
    """A pickle that creates a file when loaded: what a hostile checkpoint could do instead."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_checkpoint_holding_more_than_tensors_and_plain_data_is_never_unpickled(tmp_path):
    """Resuming reads the step first; a checkpoint from elsewhere must not run code by being read."""
    from nep_core.errors import NepError
    from nep_core.training.run_folder import checkpoint_step

    planted, hostile = tmp_path / "ran", tmp_path / "last.ckpt"
    torch.save({"global_step": 3, "payload": _RunsCodeWhenUnpickled(planted)}, hostile)
    with pytest.raises(NepError, match=re.escape(f"{hostile}: cannot be read as a training checkpoint")):
        checkpoint_step(hostile)
    assert not planted.exists()
    plain = tmp_path / "plain.ckpt"
    torch.save({"global_step": 3, "state_dict": {"w": torch.zeros(2)}, "hparams": {"lr": 0.1, "name": "x"}}, plain)
    assert checkpoint_step(plain) == 3


def test_an_export_that_fails_part_way_never_leaves_a_model_that_reads_as_whole(tmp_path, tags_domain, monkeypatch):
    """The weights were written in place over the model before, beside the older run's nep.json."""
    from inference_helpers import save_random_checkpoint

    from nep_core import checkpoint
    from nep_core.errors import NepError

    folder = save_random_checkpoint(tmp_path / "model", tags_domain, seed=1)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    with monkeypatch.context() as patch:  # the disk fills while the new weights are written
        patch.setattr("transformers.PreTrainedModel.save_pretrained", lambda *args, **kwargs: (_ for _ in ()).throw(OSError(28, "No space left")))
        with pytest.raises(OSError):
            save_random_checkpoint(folder, tags_domain, seed=2)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before  # the older model untouched, no staging left

    moves = []

    def crash_after_one_move(source, target):
        if moves:
            raise OSError(5, "Input/output error")
        moves.append(target)
        return real_replace(source, target)

    real_replace = checkpoint.os.replace
    with monkeypatch.context() as patch:  # the process dies while the files are moved in
        patch.setattr(checkpoint.os, "replace", crash_after_one_move)
        with pytest.raises(OSError):
            save_random_checkpoint(folder, tags_domain, seed=2)
    with pytest.raises(NepError, match="not a NEP checkpoint"):
        checkpoint.read_meta(folder)
    assert not [path for path in folder.iterdir() if path.name.startswith(".")]
    save_random_checkpoint(folder, tags_domain, seed=2)
    assert checkpoint.load_checkpoint(folder, "tags").meta["domain"] == "tags"


def test_the_training_state_is_fsynced_before_it_replaces_the_one_before(tmp_path, tags_domain, monkeypatch):
    """Lightning renames a finished checkpoint into place but never fsyncs it: after a power cut
    ``--resume`` could find an empty ``last.ckpt``."""
    from nep_core import atomic_files
    from nep_core.training import TrainConfig, train

    synced = []
    real_fsync = atomic_files.os.fsync

    def recording_fsync(descriptor):
        synced.append(atomic_files.os.readlink(f"/proc/self/fd/{descriptor}"))
        return real_fsync(descriptor)

    monkeypatch.setattr(atomic_files.os, "fsync", recording_fsync)
    out = tmp_path / "run"
    train(TrainConfig(domain="tags", data="synthetic:30", preset="tiny", max_steps=4, val_every=2, out=out, seed=0, progress=False))
    last = out / "lightning" / "last.ckpt"
    assert any(path.endswith("/last.ckpt") and ".tmp/" in path for path in synced)  # written beside, synced, renamed
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 4

    from nep_core.training.checkpoint_io import DurableCheckpointIO

    before = last.read_bytes()
    with pytest.raises(RuntimeError):  # a save that fails part way keeps the older state whole
        DurableCheckpointIO().save_checkpoint({"global_step": object.__new__(_Unsaveable)}, last)
    assert last.read_bytes() == before
    assert not [path for path in last.parent.iterdir() if path.name.startswith(".")]


class _Unsaveable:
    def __reduce__(self):
        raise RuntimeError("cannot be saved")


def test_a_strategy_with_its_own_checkpoint_writer_keeps_it():
    """XLA strategies refuse any writer but theirs (a TypeError inside Trainer(...) before this was applied after it)."""
    from lightning.pytorch.plugins.io import TorchCheckpointIO
    from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy

    from nep_core.training.checkpoint_io import DurableCheckpointIO, use_durable_checkpoints

    class OwnWriter(TorchCheckpointIO):
        pass

    own = SingleDeviceStrategy(device="cpu", checkpoint_io=OwnWriter())
    use_durable_checkpoints(own)
    assert type(own.checkpoint_io) is OwnWriter
    for strategy in (SingleDeviceStrategy(device="cpu"), DDPStrategy()):
        use_durable_checkpoints(strategy)
        assert type(strategy.checkpoint_io) is DurableCheckpointIO


def _snapshot(folder) -> dict:
    """Every file under ``folder`` with its bytes and modification time."""
    return {path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_resume_of_a_finished_run_says_there_is_nothing_to_do_and_rewrites_nothing(tmp_path):
    """`--resume` on a run that had trained all its steps trained nothing, yet exported the model, nep.json, loss.png and a
    new logs/version_N again and printed the summary as if it had trained: now one line, status 0, nothing written."""
    out = tmp_path / "run"
    args = ["train", "--domain", "tags", "--data", "synthetic:40", "--preset", "tiny", "--max-steps", "4", "--val-every", "4",
            "--batch-size", "8", "--threads", "1", "--out", str(out)]
    trained = subprocess.run(nep_command(*args), capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr
    before = _snapshot(out)

    resumed = subprocess.run(nep_command(*args, "--resume"), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr == "" and resumed.stdout.count("\n") == 1, resumed.stdout + resumed.stderr
    assert resumed.stdout == (f"nothing to do: {out} has already trained all 4 steps (--max-steps 4) and holds their model; "
                              "pass --max-steps above 4 to train more\n")
    assert _snapshot(out) == before

    quiet = subprocess.run(nep_command(*args, "--resume", "--quiet"), capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and quiet.stdout == resumed.stdout and quiet.stderr == "", quiet.stderr

    (out / "nep.json").unlink()  # an export cut short (a crash, a Ctrl-C while it is written): --resume writes it again
    exported = subprocess.run(nep_command(*args, "--resume", "--quiet"), capture_output=True, text=True, timeout=300)
    assert exported.returncode == 0, exported.stderr
    assert "trained tags" in exported.stdout and json.loads((out / "nep.json").read_text())["training"]["steps"] == 4


def test_rl_resume_of_a_finished_run_says_there_is_nothing_to_do_and_rewrites_nothing(tmp_path, tags_domain):
    from inference_helpers import save_random_checkpoint

    from nep_core.errors import NepError
    from nep_core.rl.config import PolicySettings, RLConfig
    from nep_core.rl.run import rl

    model = save_random_checkpoint(tmp_path / "sft", tags_domain)
    out = tmp_path / "rl"
    config = RLConfig(domain="tags", model=model, out=out, data="synthetic:20", max_steps=2, batch_size=2, val_every=2,
                      threads=1, progress=False, policy=PolicySettings(num_generations=2, val_examples=4))
    rl(config)
    before = _snapshot(out)
    with pytest.raises(NepError) as raised:
        rl(dataclasses.replace(config, resume=True))
    assert raised.value.exit_code == 0
    assert str(raised.value) == (f"nothing to do: {out} has already trained all 2 steps (--max-steps 2) and holds their model; "
                                 "pass --max-steps above 2 to train more")
    assert _snapshot(out) == before
    assert json.loads((rl(dataclasses.replace(config, resume=True, max_steps=3)) / "nep.json").read_text())["rl"]["steps"] == 3


def test_ctrl_c_while_the_default_dataset_is_generated_leaves_neither_a_partial_dataset_nor_a_runs_folder(tmp_path):
    """`nep train --domain D` with the default --out and data, stopped while it generates the domain's default dataset
    on first use, left the sessions written so far in a hidden `$NEP_HOME/data/D/.default-KEY.PID.tmp` (never used:
    the next build starts over) and an empty `runs/` (its `runs/D` was removed, the parent it made for it was not)."""
    import os
    import time

    for attempt in range(5):  # the signal may come after the last session is written (a loaded machine): then again
        home, cwd = tmp_path / f"home{attempt}", tmp_path / f"cwd{attempt}"
        cwd.mkdir()
        env = dict(os.environ, NEP_HOME=str(home))
        process = subprocess.Popen(nep_command("train", "--domain", "tags", "--preset", "tiny", "--max-steps", "2", "--threads", "1"),
                                   cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def building() -> list:
            return list((home / "data").glob("*/.default-*.tmp/*.jsonl"))  # the last may be in the middle of being written

        deadline = time.monotonic() + 120
        try:
            while process.poll() is None and time.monotonic() < deadline and not building():
                time.sleep(0.005)
            assert process.poll() is None and building(), "the default dataset was never being written"
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        if not list((home / "data").glob("*/default-*/DONE")):
            break
    assert process.returncode == 130 and stderr.strip().endswith("interrupted") and "Traceback" not in stderr, stderr
    assert list((home / "data" / "tags").iterdir()) == []
    assert list(cwd.iterdir()) == []
