"""Shared pieces of the server tests: a deterministic tags predictor and a `nep serve` subprocess."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from nep_core.actions import Action
from nep_core.inference.predictor import Prediction, Predictor, Suggestion
from nep_core.session import Context

TAGS = ("a", "b", "c", "d", "e")


def open_tags(context: Context) -> list[str]:
    """The tags still open after the context's actions, innermost last."""
    stack: list[str] = []
    for action in context.actions():
        if action.kind == "open":
            stack.append(action.target)
        elif action.kind == "close" and stack and stack[-1] == action.target:
            stack.pop()
    return stack


class InnermostClose(Predictor):
    """Closes the innermost open tag. It also always proposes two actions the server must refuse:
    closing a tag that is not open (the nesting verifier says no) and writing a word the action space
    lacks. With nothing open it says NO_EDIT."""

    name = "innermost-close"

    def predict(self, context: Context, k: int = 3) -> Prediction:
        stack = open_tags(context)
        not_open = next(tag for tag in TAGS if tag not in stack)
        suggestions = []
        if stack:
            suggestions.append(Suggestion(Action("close", target=stack[-1]), 0.6))
        suggestions.append(Suggestion(Action("close", target=not_open), 0.2))
        suggestions.append(Suggestion(Action("write", args={"word": "zzz"}), 0.1))
        return Prediction(suggestions[:k], 0.1 if stack else 0.7)


def action_event(t: float, kind: str, target=None, **args) -> dict:
    action: dict = {"kind": kind}
    if target is not None:
        action["target"] = target
    if args:
        action["args"] = args
    return {"t": t, "action": action}


def nep_command() -> list[str]:
    """The installed `nep` console script of this interpreter (or the same entry point through -m)."""
    script = Path(sys.executable).with_name("nep")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nep_core.cli.main"]


class ServeProcess:
    """`nep serve ...` in a subprocess; ``url`` once it prints its listening line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120.0):
        self.process = subprocess.Popen(
            [*nep_command(), "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = self._wait_for_url(timeout)

    def _pump(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            self.stdout.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                return match.group(1)
        self.process.kill()
        _, err = self.process.communicate(timeout=10)
        raise AssertionError(f"nep serve did not start: stdout={''.join(self.stdout)!r} stderr={err!r}")

    def interrupt(self, timeout: float = 15.0, signum: int = signal.SIGINT) -> tuple[int, str]:
        """Ctrl-C (or ``signum``); the exit status and stderr."""
        self.process.send_signal(signum)
        _, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, err

    def kill(self) -> None:
        self.process.kill()
        self.process.communicate(timeout=10)
