"""The `nep` console script itself."""

import signal
import subprocess
import sys

import pytest
from signal_helpers import signal_while_reading, waiting_log


def test_ctrl_c_while_the_command_line_imports_ends_quietly():
    """The first half second of every `nep` command is spent importing; a Ctrl-C there printed a traceback."""
    interrupt_on_import = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from nep_core.cli.entry import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", interrupt_on_import], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130
    assert done.stderr.strip() == "interrupted"


def test_the_command_line_starts_without_the_server_or_model_libraries():
    """Every `nep` command imports the whole command line; FastAPI (a quarter second) and torch load only where used."""
    loaded = "import sys, nep_core.cli.main\nprint(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'torch', 'lightning') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("command", ["collect", "eval", "predict", "train"])
def test_ctrl_c_during_a_command_says_interrupted_and_leaves_nothing_half_written(command, tmp_path):
    """Typer 0.26 and later end a Ctrl-C as a silent exit 130 before `nep` sees it: the terminal stayed blank.

    Each command is stopped while it reads its data (for `nep train`, before training starts and with it the
    handler that finishes a step; signal_helpers)."""
    logs = tmp_path / "logs"
    pipe = waiting_log(logs)
    out = tmp_path / "out"
    args = {
        "collect": ["collect", "--domain", "tags", "--source", f"logs:{logs}", "--out", str(out)],
        "eval": ["eval", "--domain", "tags", "--model", "ngram", "--data", str(logs)],
        "predict": ["predict", "--domain", "tags", "--model", "ngram", "--session", str(pipe)],
        "train": ["train", "--domain", "tags", "--data", str(logs), "--preset", "tiny", "--max-steps", "2", "--out", str(out)],
    }[command]
    returncode, stderr = signal_while_reading(args, pipe, signal.SIGINT)
    assert returncode == 130, stderr
    assert stderr.strip() == "interrupted", stderr
    assert not out.exists()  # nor a folder made for the output
