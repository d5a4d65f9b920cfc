"""The run folder: the HF checkpoint at its root, Lightning state in ``lightning/``, CSV logs in ``logs/``.

```
DIR/config.json, model.safetensors, tokenizer.json, nep.json   the exported model (at the end)
DIR/lightning/run.json                                          the settings the run started with
DIR/lightning/last.ckpt, on_exception.ckpt                      what --resume continues from
DIR/logs/version_N/metrics.csv                                  one CSV per start or resume
DIR/loss.png                                                    the loss curves (at the end)
```
"""

from __future__ import annotations

import contextlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from nep_core.atomic_files import write_json_atomic
from nep_core.checkpoint import META_FILE, MODEL_FILE
from nep_core.errors import NepError, first_line
from nep_core.output_folders import make_output_folder, output_folder

RESUME_KEYS = ("domain", "preset", "base_model", "data", "batch_size", "seed", "target")
"""Settings a resumed run must share with the run it continues."""

RESUME_DEFAULTS = {"target": "action"}
"""What a setting was in runs started before it was recorded."""


@dataclass(frozen=True)
class RunFolder:
    root: Path

    @property
    def lightning(self) -> Path:
        return self.root / "lightning"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run_file(self) -> Path:
        return self.lightning / "run.json"

    @property
    def last_checkpoint(self) -> Path:
        return self.lightning / "last.ckpt"

    @property
    def interrupt_checkpoint(self) -> Path:
        return self.lightning / "on_exception.ckpt"

    @property
    def loss_plot(self) -> Path:
        return self.root / "loss.png"

    def lightning_checkpoints(self) -> list[Path]:
        if not self.lightning.is_dir():
            return []
        return sorted(self.lightning.glob("*.ckpt"))

    def resume_checkpoint(self) -> Path:
        """The newest Lightning checkpoint (``last.ckpt`` or the one saved on an interruption)."""
        checkpoints = self.lightning_checkpoints()
        if not checkpoints:
            raise NepError(
                f"nothing to resume in {self.root}: no Lightning checkpoint in {self.lightning}; "
                f"run without --resume to start a new run"
            )
        return max(checkpoints, key=lambda path: (path.stat().st_mtime_ns, path.name == "last.ckpt"))

    def check_resume_point(self, newest: Path, max_steps: int) -> int:
        """The step the checkpoint ``newest`` was saved at; a one-line NepError if it cannot be read (cut
        short by a full disk or a crash; it names a readable older one) or if ``max_steps`` is below that step."""
        try:
            step = checkpoint_step(newest)
        except NepError as error:
            others = [path for path in self.lightning_checkpoints() if path != newest]
            readable = [(path, step) for path, step in map(_step_or_none, others) if step is not None]
            if readable:
                other, other_step = max(readable, key=lambda item: item[1])
                raise NepError(f"{error}; {other.name} (step {other_step}) can be: move {newest.name} away and resume again") from None
            raise NepError(f"{error}; start a new run with another --out") from None
        if max_steps < step:
            raise NepError(f"{self.root} has already trained {step} steps, so --max-steps {max_steps} leaves nothing to train; "
                           f"pass --max-steps above {step} to train more")
        return step

    def exported_steps(self, section: str) -> int | None:
        """The steps of the model exported at the root, as its ``nep.json`` records them in ``section``
        (``training``; ``rl`` for an ``nep rl`` run); None when there is no whole export: none yet, or one
        cut short (``save_checkpoint`` writes ``nep.json`` last and removes it first), or an unreadable one."""
        try:
            steps = json.loads((self.root / META_FILE).read_text(encoding="utf-8"))[section]["steps"]
        except (OSError, ValueError, RecursionError, LookupError, TypeError):
            return None
        return steps if type(steps) is int else None

    def check_fresh(self, starts_from: Path | None = None) -> None:
        """A new run must not overwrite the model it starts from, a run that can be resumed, or files
        that are not a run's (a new run clears ``logs/`` and ``nep.json``)."""
        if self.root.exists() and not self.root.is_dir():
            raise NepError(f"--out {self.root} is a file; pass a folder")
        if starts_from is not None and self.root.resolve() == Path(starts_from).resolve():
            raise NepError(f"--out {self.root} is the model this run starts from, which the run would overwrite; pass another --out")
        if self.lightning_checkpoints():
            raise NepError(
                f"{self.root} already holds a training run ({self.lightning}); pass --resume to continue it, "
                f"or another --out for a new run"
            )
        if (self.root / META_FILE).exists() or (self.root / MODEL_FILE).exists():
            raise NepError(f"{self.root} holds a NEP model without its run state (lightning/*.ckpt); a new run would replace it: "
                           "pass another --out, or delete the folder first")
        if self.root.is_dir() and not self.run_file.exists():
            found = sorted(path.name for path in self.root.iterdir() if not path.name.startswith("."))  # .gitkeep, .DS_Store
            if found:
                shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
                raise NepError(f"{self.root} is not empty ({shown}) and is not a NEP run; pass a new or empty folder as --out")

    @contextlib.contextmanager
    def made(self, make: bool = True) -> Iterator[None]:
        """With ``make``, the folder made before any work, as ``nep collect`` makes its ``--out``
        (``output_folder``: a path under a file, or a folder that cannot be written, is a one-line
        error), and removed again when what runs inside stops before writing into it. A run that
        fails before it saved a step it could resume from (a base model that does not load, a Ctrl-C
        before the first step) also removes what it wrote there: its tokenizer, ``lightning/run.json``, ``logs/``."""
        if not make:
            yield
            return
        found = set(self._entries())
        with output_folder(self.root, "--out"):
            try:
                yield
            except BaseException:
                if not self.lightning_checkpoints():
                    for path in set(self._entries()) - found:
                        if path.is_dir() and not path.is_symlink():
                            shutil.rmtree(path, ignore_errors=True)
                        else:
                            path.unlink(missing_ok=True)
                raise

    def _entries(self) -> list[Path]:
        return list(self.root.iterdir()) if self.root.is_dir() else []

    def start_fresh(self, settings: dict[str, Any]) -> None:
        """Clear what an earlier, unresumable run left (its logs, its nep.json) and record ``settings``."""
        make_output_folder(self.root, "--out")
        self.lightning.mkdir(exist_ok=True)
        if self.logs.is_dir():
            shutil.rmtree(self.logs)
        (self.root / META_FILE).unlink(missing_ok=True)
        write_json_atomic(self.run_file, settings)

    def read_settings(self) -> dict[str, Any]:
        try:
            return json.loads(self.run_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NepError(f"{self.run_file}: missing, so this run cannot be resumed; start a new one with another --out") from None
        except (ValueError, RecursionError) as error:
            raise NepError(f"{self.run_file}: unreadable ({error}); start a new run with another --out") from None

    def check_resumable(self, settings: dict[str, Any], keys: tuple[str, ...] = RESUME_KEYS) -> None:
        """``settings`` must match the run's on every one of ``keys``; the model it starts from (a ``--preset``
        or a ``--base-model``) is named as the option that chose it."""
        saved = self.read_settings()
        if {"preset", "base_model"} <= set(keys) and _model_option(saved) != _model_option(settings):
            raise NepError(f"{self.root} was started with {_model_option(saved)}, not {_model_option(settings)}; "
                           f"resume with {_model_option(saved)}, or start a new run with another --out")
        for key in keys:
            started = saved.get(key, RESUME_DEFAULTS.get(key))
            if started != settings.get(key):
                option = "--" + key.replace("_", "-")
                raise NepError(
                    f"{self.root} was started with {_setting(key, started)}, not {_setting(key, settings.get(key), bare=True)}; "
                    f"resume with the same {option}, or start a new run with another --out"
                )


def _model_option(settings: dict[str, Any]) -> str:
    """``--base-model PATH`` or ``--preset NAME``: the option that chose a run's model."""
    base_model = settings.get("base_model")
    return f"--base-model {base_model}" if base_model else f"--preset {settings.get('preset')}"


def _setting(key: str, value: Any, bare: bool = False) -> str:
    """``data='d_one'``; no ``--data`` is the domain's default data, not ``None``."""
    if key == "data" and value is None:
        return "the default data"
    return repr(value) if bare else f"{key}={value!r}"


def checkpoint_step(path: Path) -> int:
    """The step a Lightning checkpoint was saved at (memory-mapped, so only that number is read).

    Only tensors and plain data are unpickled (``weights_only``): a checkpoint holding any other type
    could run code when loaded, so it cannot be resumed from, here or in Lightning."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        return int(state["global_step"])
    except Exception as error:  # a cut-short zip, another format, a missing key: all mean "cannot resume from it"
        raise NepError(f"{path}: cannot be read as a training checkpoint, it may be cut short or corrupt ({first_line(error)})") from None


def _step_or_none(path: Path) -> tuple[Path, int | None]:
    try:
        return path, checkpoint_step(path)
    except NepError:
        return path, None
