"""Signalling a `nep` command while it reads its data: the session log it reads is a named pipe, which the
command is reading once the test's end of it opens."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path


def waiting_log(folder: Path) -> Path:
    """A data folder ``folder`` holding one session log that is a named pipe; the pipe."""
    folder.mkdir()
    pipe = folder / "waiting.jsonl"
    os.mkfifo(pipe)
    return pipe


def signal_while_reading(args: list[str], pipe: Path, signum: int) -> tuple[int, str]:
    """Run ``nep ARGS``, send ``signum`` once it reads ``pipe``; its exit status and stderr."""
    process = subprocess.Popen([sys.executable, "-m", "nep_core.cli.main", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    writer = None
    deadline = time.monotonic() + 120
    while writer is None and process.poll() is None and time.monotonic() < deadline:
        try:
            writer = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)  # succeeds once the command opened the log to read it
        except OSError as error:
            assert error.errno == errno.ENXIO, error
            time.sleep(0.05)
    try:
        assert writer is not None, f"`nep {args[0]}` never read its data: {process.communicate(timeout=60)}"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if writer is not None:
            os.close(writer)
        if process.poll() is None:
            process.kill()
    return process.returncode, stderr
