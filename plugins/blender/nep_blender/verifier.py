"""The ``replay`` verifier: rebuild the scene in headless bpy, then run the predicted operator there.

``valid``: the call passes ``bpy_calls.check_call`` (a real operator with known, well-typed
properties), its poll passes, it runs without an exception and returns FINISHED, and, for an edit,
the scene changed (``scene_fingerprint``). Calls that can reach outside the scene (``wm``, files,
scripts, preferences) are never run and so are not valid.

The replay rebuilds the scene from the logged calls, each run with the objects selected that its
context names (``recorded_selection``: a click that selects is not an operator, so it is not
logged; names the scene lacks leave it as it is), and the prediction with those of the user's next
edit (which may come a few actions later; else of the newest state). A
scene changed unseen otherwise (faces or bones picked by clicks, a script's data API) is rebuilt
wrong, and the user's own next edit can fail in it. When a reference is given and the prediction
fails in the scene, the reference is run there too; if it fails as well, the verdict is ``valid``
with ``scene_unknown`` 1 and the reward below, since that scene cannot judge validity.

``reward`` (0 for an invalid call or an unknown reference):

- 1.0: the user's next operator with the same properties once both are quantized by the action
  space (``validate``), i.e. every property within its quantization step;
- 0.5: the right operator with other properties;
- 0.0: another operator, or no edit.

The replay starts from Blender's empty factory scene, or from its start-up scene (cube, camera,
light) for a session whose ``meta["start_scene"]`` is ``"startup"``.

A predicted NO_EDIT is valid and earns 1.0 exactly when the reference is NO_EDIT, as in the other
domains' verifiers.

bpy holds one scene per process and can hang or crash, so replays run in a pool of long-lived
``replay_worker`` subprocesses. A session stays on one worker, which keeps the scene of the history
it last replayed and replays only the new actions of a history that extends it. Each answer is
bounded by ``timeout`` seconds; a worker that misses it is killed and restarted, and the verdict
carries ``{"error": ...}``. ``verify_many`` spreads a batch over the workers in parallel.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from nep_core.actions import Action
from nep_core.errors import InvalidAction, NepError
from nep_core.session import Context
from nep_core.verifier import Verdict, Verifier

STARTUP_TIMEOUT = 120.0
"""Seconds a new worker may take to load bpy (not counted against a replay's timeout)."""

CACHE_LIMIT = 100_000


class WorkerFailed(RuntimeError):
    """The worker timed out, crashed or could not start; it has been stopped."""


def replay_memory_bytes() -> int:
    """The most memory a worker may map: 6 GiB (bpy maps 1.3 GiB at start), or half of this
    machine's memory where that is less; ``NEP_REPLAY_MEMORY_GB`` sets it (0: no cap)."""
    if os.environ.get("NEP_REPLAY_MEMORY_GB"):
        try:
            return max(0, int(float(os.environ["NEP_REPLAY_MEMORY_GB"]) * (1 << 30)))
        except (ValueError, OverflowError):
            raise NepError(f"NEP_REPLAY_MEMORY_GB={os.environ['NEP_REPLAY_MEMORY_GB']!r} is not a number of GiB") from None
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        physical = 0
    return min(6 << 30, physical // 2) if physical > 0 else 6 << 30


class ReplayWorker:
    """One ``replay_worker`` process with its answer pipe; one request at a time (``lock``)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.answers = -1
        self.buffer = b""
        self.lock = threading.Lock()
        self.starts = 0
        self.scratch: str | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        read_end, write_end = os.pipe()
        self.scratch = tempfile.mkdtemp(prefix="nep-replay-")  # the worker's scene files; removed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nep_blender.replay_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "NEP_REPLAY_FD": str(write_end), "NEP_REPLAY_SCRATCH": self.scratch,
                 "NEP_REPLAY_MEMORY_BYTES": str(replay_memory_bytes()),
                 "TMPDIR": self.scratch},  # Blender's temporary files go where stop() removes them, even after a kill
            pass_fds=(write_end,),
        )
        os.close(write_end)
        self.answers, self.buffer = read_end, b""
        self.starts += 1
        if not self._read(STARTUP_TIMEOUT, "to load bpy").get("ready"):
            self.stop()
            raise WorkerFailed("the bpy worker did not start")

    def ask(self, request_line: str, timeout: float) -> dict:
        """Send one request line and wait for its answer; WorkerFailed if none comes in ``timeout`` s."""
        if not self.running:
            self.stop()
            self.start()
        try:
            self.process.stdin.write(request_line.encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerFailed(self._exit_reason()) from None
        return self._read(timeout, "to replay")

    def _read(self, timeout: float, doing: str) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.answers], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                self.stop()
                raise WorkerFailed(f"timed out: bpy took over {timeout:g} s {doing} (worker restarted)")
            chunk = os.read(self.answers, 1 << 16)
            if not chunk:
                raise WorkerFailed(self._exit_reason())
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def _exit_reason(self) -> str:
        code = self.process.wait() if self.process is not None else None
        self.stop()
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the bpy worker crashed ({name}; worker restarted)"
        return f"the bpy worker exited with code {code} (worker restarted)"

    def stop(self, grace: float = 0.0) -> None:
        """Stop the process: kill it, or first let it finish for ``grace`` seconds after its input ends."""
        process, self.process = self.process, None
        if process is not None:
            if process.stdin:
                try:
                    process.stdin.close()
                except OSError:
                    pass
            if grace:
                try:
                    process.wait(grace)
                except subprocess.TimeoutExpired:
                    pass
            if process.poll() is None:
                process.kill()
            process.wait()
        if self.answers >= 0:
            os.close(self.answers)
            self.answers = -1
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def recorded_selection(context: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{"active", "selected"}`` object names from a context that names them (``bpy_calls.current_context``), else None."""
    names, active = context.get("selected_names"), context.get("active_name")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names) or not isinstance(active, (str, type(None))):
        return None
    return {"active": active, "selected": names}


def _stop_pool(pool: list[ReplayWorker]) -> None:
    for worker in pool:
        with worker.lock:
            worker.stop(grace=5.0)


@dataclass(frozen=True)
class _Job:
    """One replay request, ready to send."""

    stream: str
    length: int
    line: str
    digest: str
    predicted: Action
    reference: Action | None


class ReplayVerifier(Verifier):
    name = "replay"
    serving = False  # too slow for the request path: the add-on checks each suggestion in the live scene
    description = "replays the session in headless bpy and runs the suggestion: valid = it runs and (for edits) changes the scene"

    def __init__(self, action_space, workers: int | None = None, timeout: float = 30.0, reuse_prefix: bool = True):
        self.action_space = action_space
        self.registry = action_space.registry
        self.timeout = timeout
        self.reuse_prefix = reuse_prefix
        self.pool = [ReplayWorker() for _ in range(max(1, workers or min(4, os.cpu_count() or 1)))]
        self.stats = {"verifies": 0, "replayed_calls": 0, "timeouts": 0, "failures": 0, "cache_hits": 0, "seconds": 0.0}
        self._stats_lock = threading.Lock()
        self._answers: dict[str, dict] = {}
        self._homes: dict[str, int] = {}  # session stream -> the worker that replays it
        self._finalizer = weakref.finalize(self, _stop_pool, self.pool)

    def close(self) -> None:
        """Stop the worker processes (they start again if the verifier is used again)."""
        _stop_pool(self.pool)

    def __enter__(self) -> ReplayVerifier:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # Judging --------------------------------------------------------------------------------------

    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        return self.verify_many([(context, predicted, reference)])[0]

    def verify_many(self, items: Sequence[tuple[Context, Action, Action | None]]) -> list[Verdict]:
        """Verdicts for ``(context, predicted, reference)`` items, in order, spread over the workers;
        a prediction that fails in the scene is checked against the user's own action
        (``_judged_where_the_user_acted``)."""
        return self._judged_where_the_user_acted(items, self._replay_many(items))

    def _judged_where_the_user_acted(self, items: Sequence[tuple[Context, Action, Action | None]], verdicts: list[Verdict]) -> list[Verdict]:
        """Where a prediction fails in the replayed scene, run the user's next edit there too.

        The user's edit did run, in the user's scene. If it fails in the replayed one as well, the
        replay did not rebuild that scene (a click, or a script's data API, changed it unseen), and
        the scene cannot judge the prediction: it counts as valid and is scored against the user's
        edit alone, with ``scene_unknown`` 1. A call refused before it meets the scene stays invalid.
        """
        suspects = [
            index
            for index, ((_, _, reference), verdict) in enumerate(zip(items, verdicts))
            if not verdict.valid and verdict.details.get("refused") is False and reference is not None and not reference.is_no_edit
        ]
        asked = [index for index in suspects if items[index][1] != items[index][2]]
        users = dict(zip(asked, self._replay_many([(items[index][0], items[index][2], items[index][2]) for index in asked])))
        for index in suspects:
            users_verdict = users.get(index, verdicts[index])
            if not users_verdict.valid and users_verdict.details.get("refused") is False:
                _, predicted, reference = items[index]
                details = {**verdicts[index].details, "scene_unknown": 1.0}
                verdicts[index] = Verdict(True, self.reward(predicted, reference), details)
        return verdicts

    def _replay_many(self, items: Sequence[tuple[Context, Action, Action | None]]) -> list[Verdict]:
        """The replayed scene's verdicts, in order.

        Items of one session run on one worker, shortest history first, so each replays only the
        actions its predecessor had not; a session goes back to the worker that last replayed it,
        a new one to the least loaded worker, largest first.
        """
        verdicts: list[Verdict | None] = [None] * len(items)
        streams: dict[str, list[tuple[int, _Job]]] = {}
        for index, (context, predicted, reference) in enumerate(items):
            job = self._prepare(context, predicted, reference)
            if isinstance(job, Verdict):
                verdicts[index] = job
            else:
                streams.setdefault(job.stream, []).append((index, job))
        queues: list[list[tuple[int, _Job]]] = [[] for _ in self.pool]
        for name, stream in sorted(streams.items(), key=lambda item: (item[0] not in self._homes, -len(item[1]))):
            stream.sort(key=lambda entry: entry[1].length)
            home = self._homes.get(name)
            if home is None:
                home = self._homes[name] = min(range(len(queues)), key=lambda position: len(queues[position]))
            queues[home].extend(stream)

        def drain(worker: ReplayWorker, queue: list[tuple[int, _Job]]) -> None:
            for index, job in queue:
                verdicts[index] = self._run(worker, job)

        busy = [(worker, queue) for worker, queue in zip(self.pool, queues) if queue]
        if len(busy) == 1:
            drain(*busy[0])
        elif busy:
            with ThreadPoolExecutor(len(busy)) as executor:
                for future in [executor.submit(drain, worker, queue) for worker, queue in busy]:
                    future.result()
        return verdicts

    def reward(self, predicted: Action, reference: Action | None) -> float:
        """1.0 same operator and quantized properties, 0.5 same operator, else 0 (see the module docstring)."""
        if reference is None or reference.is_no_edit or reference.kind != predicted.kind:
            return 0.0
        try:
            same = self.action_space.validate(predicted).key() == self.action_space.validate(reference).key()
        except InvalidAction:
            same = False
        return 1.0 if same else 0.5

    # Internals ------------------------------------------------------------------------------------

    def _call(self, action: Action, made_in: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What the worker needs of an action: the call, whether it is an edit, whether undo sees it,
        and the selection it was made in (``made_in``, else its own context), where that is named."""
        spec = self.registry.get(action.kind)
        edit = spec.is_edit if spec is not None else action.edit
        undoable = spec is None or spec.is_edit or "UNDO" in spec.options
        call = {"kind": action.kind, "args": dict(action.args), "edit": edit, "undoable": undoable}
        selection = recorded_selection(action.context if made_in is None else made_in)
        if selection is not None:
            call["selection"] = selection
        return call

    def _prepare(self, context: Context, predicted: Action, reference: Action | None) -> _Job | Verdict:
        if predicted.is_no_edit:
            return Verdict(True, float(reference is not None and reference.is_no_edit))
        history = [self._call(event.action) for event in context.history if event.action is not None]
        history_line = json.dumps(history, separators=(",", ":"))
        start = "startup" if context.meta.get("start_scene") == "startup" else "empty"
        # the prediction runs where the user's next action did, else in the newest state the app sent
        now = reference.context if reference is not None and reference.context else (context.state or {})
        line = json.dumps({"predicted": self._call(predicted, now), "reuse": self.reuse_prefix, "start": start}, separators=(",", ":"))
        line = line[:-1] + ',"history":' + history_line + "}"
        stream = context.session_id or hashlib.blake2b(history_line[:2000].encode(), digest_size=8).hexdigest()
        digest = hashlib.blake2b(line.encode(), digest_size=16).hexdigest()
        return _Job(stream, len(history), line, digest, predicted, reference)

    def _run(self, worker: ReplayWorker, job: _Job) -> Verdict:
        answer = self._answers.get(job.digest)
        if answer is not None:
            self._count(cache_hits=1)
        else:
            started = time.perf_counter()
            try:
                with worker.lock:
                    answer = worker.ask(job.line, self.timeout)
            except WorkerFailed as error:
                self._count(failures=1, timeouts=int(str(error).startswith("timed out")), seconds=time.perf_counter() - started)
                return Verdict(False, 0.0, {"error": str(error)})
            self._count(verifies=1, replayed_calls=answer.get("replayed", 0), seconds=time.perf_counter() - started)
            if len(self._answers) < CACHE_LIMIT:
                self._answers[job.digest] = answer
        if "replayed" not in answer:
            return Verdict(False, 0.0, {"error": answer["error"]})
        details: dict[str, Any] = {
            "scene_changed": float(answer["changed"]),
            "replay_errors": answer["replay_errors"],
            "refused": answer["refused"],
            "scene_unknown": 0.0,
        }
        if answer["error"]:
            details["error"] = answer["error"]
        return Verdict(answer["valid"], self.reward(job.predicted, job.reference) if answer["valid"] else 0.0, details)

    def _count(self, **amounts: float) -> None:
        with self._stats_lock:
            for name, amount in amounts.items():
                self.stats[name] += amount
