"""Suggestion latency, in-process and through `nep serve` on loopback; prints JSON.

    python bench/bench_latency.py --domain tags --model ngram --requests 500
    python bench/bench_latency.py --domain tags --model runs/tags --requests 200

The requests are the held-out (test split) trigger points of the domain's data, cycled. In-process
timings call ``predictor.predict(context, k)`` directly. Server timings start `nep serve` in a
subprocess on 127.0.0.1 (a free port), send the same contexts one at a time over one keep-alive
connection (stdlib ``http.client``, the kind of client an app add-on uses) and time each round trip
(body already encoded; the answer decoded). ``ratio_p50`` and
``ratio_p95`` are server over in-process. The `tags` test domain is found through tests/plugins
when NEP_PLUGINS_DIR is not set.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("NEP_PLUGINS_DIR", str(REPO / "tests" / "plugins"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    position = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[position]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.50), 4),
        "p95_ms": round(percentile(values, 0.95), 4),
        "p99_ms": round(percentile(values, 0.99), 4),
        "mean_ms": round(statistics.fmean(values), 4),
    }


def held_out_contexts(domain, data: str | None, count: int):
    """``count`` contexts from the test split (cycled), and the train examples for fitting a baseline."""
    from nep_core.dataset import load_sessions
    from nep_core.examples import build_examples, split_sessions

    sessions, _ = load_sessions(domain, data)
    examples, _ = build_examples(split_sessions(sessions, domain.examples), domain)
    held_out = examples["test"] or examples["val"] or examples["train"]
    return [held_out[index % len(held_out)].context for index in range(count)], examples["train"]


def request_body(context, top_k: int) -> bytes:
    session = re.sub(r"[^A-Za-z0-9._-]", "_", context.session_id or "bench")[:128] or "bench"
    body = {"session": session if session[0].isalnum() else f"s{session[:127]}", "top_k": top_k}
    body["history"] = [event.to_json() for event in context.history]
    if context.state is not None:
        body["state"] = dict(context.state)
    return json.dumps(body).encode("utf-8")


def start_server(domain: str, model: str, data: str | None, feedback_dir: str) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "nep_core.cli.main", "serve", "--domain", domain, "--model", model]
    command += ["--port", "0", "--data-dir", feedback_dir] + (["--data", data] if data else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return process, match.group(1)
    process.wait()
    raise SystemExit(f"nep serve exited with status {process.returncode} before listening")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", required=True)
    parser.add_argument("--model", required=True, help="checkpoint folder, or ngram / repeat-last / most-frequent")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--data", default=None, help="sessions to draw requests from (default: the domain's default data)")
    args = parser.parse_args()

    from nep_core.inference.factory import is_baseline, load_predictor
    from nep_core.plugins import get_domain

    domain = get_domain(args.domain)
    contexts, train_examples = held_out_contexts(domain, args.data, args.warmup + args.requests)
    predictor = load_predictor(args.model, domain, train_examples if is_baseline(args.model) else None)

    in_process = []
    for index, context in enumerate(contexts):
        started = time.perf_counter()
        predictor.predict(context, args.top_k)
        if index >= args.warmup:
            in_process.append((time.perf_counter() - started) * 1000.0)

    bodies = [request_body(context, args.top_k) for context in contexts]
    through_server, server_side = [], []
    with tempfile.TemporaryDirectory(prefix="nep-bench-") as feedback_dir:
        process, url = start_server(args.domain, args.model, args.data, feedback_dir)
        try:
            host, port = url.removeprefix("http://").rsplit(":", 1)
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
            for index, body in enumerate(bodies):
                started = time.perf_counter()
                connection.request("POST", "/v1/suggest", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                answer = json.loads(response.read())
                elapsed = (time.perf_counter() - started) * 1000.0
                if response.status != 200:
                    raise SystemExit(f"request {index} failed: {response.status} {answer}")
                if index >= args.warmup:
                    through_server.append(elapsed)
                    server_side.append(answer["latency_ms"])
            connection.close()
        finally:
            process.terminate()
            process.wait(timeout=30)

    local, remote = summary(in_process), summary(through_server)
    print(
        json.dumps(
            {
                "domain": args.domain,
                "model": args.model,
                "requests": args.requests,
                "top_k": args.top_k,
                "mean_history_events": round(statistics.fmean(len(context.history) for context in contexts), 1),
                "in_process": local,
                "server": remote,
                "server_handler": summary(server_side),
                "ratio_p50": round(remote["p50_ms"] / max(local["p50_ms"], 1e-9), 2),
                "ratio_p95": round(remote["p95_ms"] / max(local["p95_ms"], 1e-9), 2),
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
