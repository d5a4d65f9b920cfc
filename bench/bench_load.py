"""Load on loopback: many requests from many concurrent clients against `nep serve`; prints JSON.

    python bench/bench_load.py                                  # 10,000 requests, 32 clients, tags + ngram
    python bench/bench_load.py --requests 2000 --clients 8 --domain tags --model repeat-last

`nep serve` runs in a subprocess on 127.0.0.1 (a free port, its feedback logs in a temporary folder).
Each client is a thread with its own keep-alive connection and its own session; it cycles through
the held-out contexts of the domain's data and sends every ``--feedback-every``-th request to
/v1/feedback instead (an fsynced append), so both paths carry load. Reported: every answer's status
(the run fails with exit status 1 on any error), requests per second, round-trip latency, and the
server's resident memory (VmRSS) after a warm-up round and after the run, and its peak (VmHWM).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_latency import Client, held_out_contexts, request_body, run_threads, start_server, summary  # noqa: E402


def memory_mb(pid: int) -> dict[str, float]:
    """Resident and peak resident memory of process ``pid`` in MiB (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def run_load(url: str, contexts, clients: int, requests: int, top_k: int, feedback_every: int) -> dict:
    shares = [requests // clients + (index < requests % clients) for index in range(clients)]
    statuses: collections.Counter[int] = collections.Counter()
    timings: list[float] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        client = Client(url)
        session = f"load-{index}"
        mine, seen = [], collections.Counter()
        for step in range(shares[index]):
            context = contexts[(index * 13 + step) % len(contexts)]
            try:
                if feedback_every and step % feedback_every == feedback_every - 1:
                    body = json.dumps({"session": session, "accepted": step % 2 == 0, "t": float(step)}).encode()
                    status, _, elapsed = client.post("/v1/feedback", body)
                else:
                    status, _, elapsed = client.post("/v1/suggest", request_body(context, top_k, session))
            except Exception:  # a dropped connection is an error too; reconnect and go on
                status, elapsed = -1, 0.0
                client.close()
                client = Client(url)
            seen[status] += 1
            mine.append(elapsed)
        client.close()
        with lock:
            statuses.update(seen)
            timings.extend(mine)

    wall = run_threads(worker, clients)
    total = sum(statuses.values())
    return {
        "requests": total,
        "clients": clients,
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "errors": total - statuses[200],
        "seconds": round(wall, 2),
        "requests_per_s": round(total / wall, 1),
        "latency": summary(timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", default="tags")
    parser.add_argument("--model", default="ngram")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=500, help="requests before the first memory reading")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--feedback-every", type=int, default=10, help="every Nth request of a client is feedback (0: none)")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()

    from nep_core.plugins import get_domain

    contexts, _ = held_out_contexts(get_domain(args.domain), args.data, 200)
    with tempfile.TemporaryDirectory(prefix="nep-load-") as feedback_dir:
        process, url = start_server(args.domain, args.model, args.data, feedback_dir, speculate=True)
        try:
            warm = run_load(url, contexts, args.clients, args.warmup, args.top_k, args.feedback_every)
            before = memory_mb(process.pid)
            load = run_load(url, contexts, args.clients, args.requests, args.top_k, args.feedback_every)
            after = memory_mb(process.pid)
            client = Client(url)
            health = client.health()
            client.close()
            alive = process.poll() is None
        finally:
            process.terminate()
            process.wait(timeout=30)
    report = {
        "domain": args.domain,
        "model": args.model,
        "warmup": {"requests": warm["requests"], "errors": warm["errors"]},
        "load": load,
        "server_alive_after": alive and health.get("status") == "ok",
        "rss_mb_before": before["VmRSS"],
        "rss_mb_after": after["VmRSS"],
        "rss_growth_mb": round(after["VmRSS"] - before["VmRSS"], 1),
        "rss_peak_mb": after["VmHWM"],
        "speculation": health.get("speculation"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average": [round(value, 2) for value in os.getloadavg()]},
    }
    print(json.dumps(report, indent=2))
    if load["errors"] or warm["errors"] or not report["server_alive_after"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
