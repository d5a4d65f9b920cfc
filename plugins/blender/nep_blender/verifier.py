"""The ``replay`` verifier: rebuild the scene in headless bpy, then run the predicted operator there.

``valid``: the call passes the live-RNA check (a real operator, known and well-typed properties),
its poll passes, it finishes without an error, and, for an edit, the scene changed. ``reward``: 1.0
when it is the user's next operator with the same settings after quantization (so within the
action space's tolerance), 0.5 for the right operator with other settings, 0 otherwise; a
predicted NO_EDIT is valid and earns 1.0 exactly when the user's next step is no edit.

bpy holds one scene per process and can hang, so replays run in ``replay_worker`` subprocesses: one
per session stream (sessions are routed to a worker by id, so a growing session replays only its new
actions), each answer bounded by ``timeout`` seconds, after which the worker is killed and restarted.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import time
import zlib
from typing import Any

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_core.session import Context
from nep_core.verifier import Verdict, Verifier


class ReplayWorker:
    """One ``replay_worker`` process and its answer pipe."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.answers = -1
        self.buffer = b""

    def start(self) -> None:
        read_end, write_end = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nep_blender.replay_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "NEP_REPLAY_FD": str(write_end)}, pass_fds=(write_end,),
        )
        os.close(write_end)
        self.answers, self.buffer = read_end, b""

    def ask(self, request: dict, timeout: float) -> dict:
        """Send one request and wait for its answer; raises TimeoutError or EOFError (the worker is then stopped)."""
        if self.process is None or self.process.poll() is not None:
            self.start()
        try:
            self.process.stdin.write((json.dumps(request) + "\n").encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            self.stop()
            raise EOFError("the bpy worker exited") from None
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.answers], [], [], max(0.0, left))
            if not ready:
                self.stop()
                raise TimeoutError(f"no answer from bpy within {timeout:g} s")
            chunk = os.read(self.answers, 65536)
            if not chunk:
                self.stop()
                raise EOFError("the bpy worker exited")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            if self.process.stdin:
                self.process.stdin.close()
            self.process = None
        if self.answers >= 0:
            os.close(self.answers)
            self.answers = -1


class ReplayVerifier(Verifier):
    name = "replay"
    description = "replays the session in headless bpy and runs the suggestion: valid = it runs and (for edits) changes the scene"

    def __init__(self, action_space, workers: int = 1, timeout: float = 30.0):
        self.action_space = action_space
        self.timeout = timeout
        self.pool = [ReplayWorker() for _ in range(max(1, workers))]
        self.stats = {"verifies": 0, "replayed_calls": 0, "timeouts": 0, "seconds": 0.0}
        self._cache: dict[tuple, Verdict] = {}
        atexit.register(self.close)

    def close(self) -> None:
        for worker in self.pool:
            worker.stop()

    def _reward(self, predicted: Action, reference: Action | None) -> float:
        if reference is None or reference.is_no_edit or reference.kind != predicted.kind:
            return 0.0
        try:
            same = self.action_space.validate(predicted) == self.action_space.validate(reference)
        except InvalidAction:
            same = False
        return 1.0 if same else 0.5

    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        if predicted.is_no_edit:
            return Verdict(True, float(reference is not None and reference.is_no_edit))
        history = [event.action.to_json() for event in context.history if event.action is not None]
        key = (context.session_id, len(history), predicted.key(), None if reference is None else reference.key())
        if key in self._cache:
            return self._cache[key]
        predicted_json = {**predicted.to_json(), "edit": predicted.edit}
        worker = self.pool[zlib.crc32(context.session_id.encode()) % len(self.pool)]
        started = time.perf_counter()
        try:
            answer: dict[str, Any] = worker.ask({"history": history, "predicted": predicted_json}, self.timeout)
        except (TimeoutError, EOFError) as error:
            self.stats["timeouts"] += isinstance(error, TimeoutError)
            return Verdict(False, 0.0, {"error": str(error)})
        finally:
            self.stats["seconds"] += time.perf_counter() - started
        self.stats["verifies"] += 1
        self.stats["replayed_calls"] += answer["replayed"]
        details = {"scene_changed": float(answer["changed"]), "replay_errors": answer["replay_errors"]}
        if answer["error"]:
            details["error"] = answer["error"]
        verdict = Verdict(answer["valid"], self._reward(predicted, reference) if answer["valid"] else 0.0, details)
        if len(self._cache) < 100_000:
            self._cache[key] = verdict
        return verdict
