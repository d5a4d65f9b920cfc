"""Server memory with large sessions: resident memory and what each per-session cache keeps; prints JSON.

    python bench/bench_server_memory.py                         # 400 code sessions of 0.9 MB files in the history
    python bench/bench_server_memory.py --where state           # the file in each request's explicit state
    python bench/bench_server_memory.py --sessions 20 --size 300000 --budget 1000000

A real server runs in this process (``create_app`` and ``BackgroundServer`` on 127.0.0.1, its
feedback logs in a temporary folder) for the built-in ``code`` domain, with a cheap deterministic
predictor (it always suggests inserting a comment line at the top of the file, in microseconds), so
what grows is what the server keeps, not a model. One client runs ``--sessions`` sessions one after
the other. Each sends a request whose file of about ``--size`` bytes is a state event of its history
(``--where history``) or its explicit ``state`` (``--where state``), waits for the speculation on
the answer, sends the request with that suggestion accepted (answered from the speculation when the
cache kept it), then feedback accepted=true. ``--warmup`` sessions run first on a server of their
own, emptied and closed before the measurement (imports, first-request allocations). The server's body limit is
raised to fit ``--size`` where the default would not; a session over a cache's byte budget is
answered but not kept.

Every request must be answered with a 200 (anything else stops the run with a one-line error).
Reported, besides the parameters: the process's resident memory (VmRSS, MiB) before the sessions,
after them, its peak (VmHWM), once both caches are emptied, and then after glibc's ``malloc_trim``
(which hands back the freed memory the allocator kept; null without glibc); how many accepts came
from a speculation and how many were predicted afresh; the speculation counters, as ``/v1/health``
gives them; and for the history cache (``nep_core/server/history_cache.py``) and the
speculation cache (``nep_core/server/speculation.py``) each: the sessions kept, the bytes it counts
against its byte budget (``kept_bytes``), that budget (``max_bytes``, 64 MiB each unless ``--budget``
sets both) and the bytes of the unique objects it keeps alive (``held_bytes``: strings by length,
containers by ``sys.getsizeof``; the speculation's ``not_in_history_cache`` leaves out what the
history cache holds too).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import sys
import tempfile
import time
from dataclasses import fields, is_dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    Client, argument_parser, machine, memory_mb, non_negative_int, positive_int, progress, run_main,
)

from nep_core.actions import Action  # noqa: E402
from nep_core.errors import NepError  # noqa: E402
from nep_core.inference.predictor import Prediction, Predictor, Suggestion  # noqa: E402

FILE = "notes.py"
ACCEPTED_T = 3.5  # session seconds of the accept: after the request's last event (t=1.0)


class InsertComment(Predictor):
    """Code domain: insert a comment line at the top of the file (always valid, microseconds, no model)."""

    name = "insert-comment"

    def predict(self, context, k: int = 3) -> Prediction:
        edits = sum(event.action is not None for event in context.history)
        action = Action("edit", target={"file": FILE, "line": 1}, args={"delete": 0, "insert": f"# note {edits}\n"})
        return Prediction([Suggestion(action, 0.9)], 0.05)

    def input_key(self, context) -> tuple[()]:
        return ()  # reads no times: an accept at any t is the speculated request

    quick_input_key = input_key


def request(session: str, size: int, where: str, accepted: dict | None = None) -> bytes:
    """A /v1/suggest body of ``session`` with a file of about ``size`` bytes (distinct per session), encoded."""
    line = f"# {session} " + "x" * 60 + "\n"
    state = {"files": {FILE: line * max(1, size // len(line))}, "cursor": {"file": FILE, "line": 1, "column": 0}}
    actions = [{"t": 1.0, "action": {"kind": "edit", "target": {"file": FILE, "line": 1}, "args": {"delete": 0, "insert": "# hi\n"}}}]
    actions += [{"t": ACCEPTED_T, "action": accepted}] if accepted else []
    body = {"session": session, "history": [{"t": 0.0, "state": state}, *actions]} if where == "history" else \
        {"session": session, "history": actions, "state": state}
    return json.dumps(body).encode("utf-8")


def run_session(client: Client, app, session: str, size: int, where: str) -> bool:
    """One session's request, its speculation, the accepted request and the feedback; whether the accept
    was answered from the speculation. A status other than 200 is a NepError."""
    def post(path: str, body: bytes) -> dict:
        status, answer, _ = client.post(path, body)
        if status != 200:
            raise NepError(f"{path} of session {session} answered {status}: {json.dumps(answer)[:200]}")
        return answer

    first = post("/v1/suggest", request(session, size, where))
    if first["best_is_no_edit"] or not first["suggestions"]:
        raise NepError(f"session {session}: the predictor suggested no edit")
    if not app.state.service.speculations.wait_idle(120):
        raise NepError(f"session {session}: the speculation did not finish in 120 s")
    action = first["suggestions"][0]["action"]
    second = post("/v1/suggest", request(session, size, where, action))
    post("/v1/feedback", json.dumps({"session": session, "accepted": True, "shown_at": 3.0, "suggestion": action}).encode())
    return second["speculative"]


def held(obj, seen: set[int]) -> int:
    """Bytes of the unique objects reachable from ``obj`` that are not yet in ``seen`` (ids, updated)."""
    total, stack = 0, [obj]
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (bool, int, float)) or id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, field.name) for field in fields(item) if not field.name.startswith("_"))
    return total


def caches(app, sessions: list[str]) -> dict[str, dict]:
    """Sessions, counted bytes, budgets and held bytes of the history cache and the speculation cache.
    The walk reads the history cache's table (it has no public view of it); the server is idle then."""
    histories, speculations = app.state.histories, app.state.service.speculations
    seen: set[int] = set()
    kept = list(histories._sessions.values())
    keys, events = sum(held(entry.keys, seen) for entry in kept), sum(held(entry.events, seen) for entry in kept)
    walked = [(made.base, made.state, made.accepted, made.result) for session in sessions for made in speculations.peek(session)]
    every, beyond = set(), set(seen)
    return {
        "history_cache": {"sessions": len(histories), "max_sessions": histories.max_sessions, "kept_bytes": histories.kept_bytes,
                          "max_bytes": histories.max_bytes, "held_bytes": {"keys": keys, "events": events}},
        "speculation_cache": {"sessions": len(speculations), "max_sessions": speculations.max_sessions,
                              "kept_bytes": speculations.kept_bytes, "max_bytes": speculations.max_bytes,
                              "held_bytes": {"all": sum(held(parts, every) for parts in walked),
                                             "not_in_history_cache": sum(held(parts, beyond) for parts in walked)}},
    }


def empty(app, sessions: list[str]) -> None:
    """Drop what both caches keep of ``sessions``. Stopping the server does not free them: FastAPI keeps
    the app's endpoints in a cache of its own, and their closures hold the caches."""
    for session in sessions:
        app.state.service.speculations.discard(session)
    app.state.histories._sessions.clear()  # it has no public way to drop sessions; the server is idle


def make_app(predictor, budget: int | None, size: int, data_dir: str):
    """The server app as `nep serve` makes it (its body limit raised to fit ``size`` if need be), with
    both caches' byte budgets set to ``budget`` (None: their defaults)."""
    from nep_core.plugins import get_domain
    from nep_core.server import create_app
    from nep_core.server.defaults import DEFAULT_MAX_BODY_BYTES
    from nep_core.server.speculation import SpeculationSettings

    speculation = SpeculationSettings() if budget is None else SpeculationSettings(max_bytes=budget)
    app = create_app(get_domain("code"), predictor, data_dir=data_dir, speculation=speculation,
                     max_body_bytes=max(DEFAULT_MAX_BODY_BYTES, size + 64 * 1024))
    if budget is not None:
        app.state.histories.max_bytes = budget
    return app


def measure(args) -> dict:
    """Warm up on a server of its own, then run the sessions on a fresh one; the figures while it is up."""
    from nep_core.server.runner import BackgroundServer

    predictor = InsertComment()
    with tempfile.TemporaryDirectory(prefix="nep-bench-memory-") as scratch:
        data_dir = str(Path(scratch) / "feedback")
        os.environ.setdefault("NEP_HOME", str(Path(scratch) / "home"))  # unless set: loading the plugins caches files there
        if args.warmup:
            progress(f"warm-up: {args.warmup} session(s)")
            app = make_app(predictor, args.budget, args.size, data_dir)
            with BackgroundServer(app) as server:
                client = Client(server.url)
                warmup = [f"warmup{index}" for index in range(args.warmup)]
                for session in warmup:
                    run_session(client, app, session, args.size, args.where)
                client.close()
                empty(app, warmup)
            del app
        app = make_app(predictor, args.budget, args.size, data_dir)
        with BackgroundServer(app) as server:
            client = Client(server.url)
            gc.collect()
            before = memory_mb()["VmRSS"]
            progress(f"{args.sessions} session(s) of {args.size:,} bytes in the {args.where}")
            sessions = [f"s{index:05d}" for index in range(args.sessions)]
            started = time.perf_counter()
            from_speculation = sum(run_session(client, app, session, args.size, args.where) for session in sessions)
            seconds = time.perf_counter() - started
            client.close()
            if not app.state.service.speculations.wait_idle(120):  # the speculation on the last accepted answer
                raise NepError("the last speculation did not finish in 120 s")
            gc.collect()
            after = memory_mb()
            kept = caches(app, sessions)
            speculation = app.state.service.speculations.snapshot()
            empty(app, sessions)
            gc.collect()
            emptied = memory_mb()["VmRSS"]
            trimmed = memory_mb()["VmRSS"] if malloc_trim() else None
    return {"seconds": round(seconds, 1), "accepts": {"from_speculation": from_speculation, "predicted_afresh": args.sessions - from_speculation},
            "rss_mb_before": before, "rss_mb_after": after["VmRSS"], "rss_growth_mb": round(after["VmRSS"] - before, 1),
            "rss_peak_mb": after["VmHWM"], "rss_mb_caches_emptied": emptied, "rss_mb_after_malloc_trim": trimmed, **kept,
            "speculation": speculation}


def malloc_trim() -> bool:
    """glibc's ``malloc_trim(0)``: freed memory the allocator kept goes back to the system. False without glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return False
    return True


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--sessions", type=positive_int, default=400, help="sessions measured, one after the other")
    parser.add_argument("--size", type=positive_int, default=900_000, help="bytes of each session's file (about)")
    parser.add_argument("--where", choices=("history", "state"), default="history",
                        help="history: the file is a state event of the history; state: it is the request's explicit state")
    parser.add_argument("--budget", type=positive_int, default=None,
                        help="byte budget of each cache (default: the server's, 64 MiB each)")
    parser.add_argument("--warmup", type=non_negative_int, default=3, help="sessions run first on a server of their own (0: none)")
    args = parser.parse_args()

    figures = measure(args)
    print(json.dumps({
        "bench": "server memory",
        "domain": "code",
        "where": args.where,
        "sessions": args.sessions,
        "size": args.size,
        "request_bytes": len(request("s00000", args.size, args.where)),
        "warmup": args.warmup,
        **figures,
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    run_main(main)
