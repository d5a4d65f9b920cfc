"""Load on loopback: many requests from many concurrent clients against `nep serve`; prints JSON.

    python bench/bench_load.py                                  # 10,000 requests, 32 clients, tags + ngram
    python bench/bench_load.py --requests 2000 --clients 8 --domain tags --model repeat-last

`nep serve` runs in a subprocess on 127.0.0.1 (a free port, its feedback logs in a temporary folder).
Each client is a thread with its own keep-alive connection and its own session; it cycles through
the held-out contexts of the domain's data and sends every ``--feedback-every``-th request to
/v1/feedback instead (an fsynced append), so both paths carry load. The bodies are encoded and the
connections opened before the clock starts, and the clients start together. Reported: every
answer's status (``error``: a request that failed, such as a dropped connection; the run fails with
exit status 1 on any answer but 200), requests per second of 200 answers, the round-trip latency of
the 200 answers for /v1/suggest and /v1/feedback apart, and the server's resident memory (VmRSS)
after a warm-up round (``--warmup 0``: none) and after the run, and its peak (VmHWM).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    argument_parser, check_models, held_out_contexts, machine, memory_mb, non_negative_int, positive_int, progress,
    request_body, run_clients, run_main, server_health, shares, start_server, stop_server, summary, use_test_domains,
)

use_test_domains()

PATHS = {"suggest": "/v1/suggest", "feedback": "/v1/feedback"}


def plans(contexts, clients: int, requests: int, top_k: int, feedback_every: int) -> list[list[tuple[str, bytes]]]:
    """Each client's requests, ``requests`` in all: its session's suggest bodies, every ``feedback_every``-th a feedback."""
    made = []
    for index, share in enumerate(shares(requests, clients)):
        session, mine = f"load-{index}", []
        for step in range(share):
            if feedback_every and step % feedback_every == feedback_every - 1:
                body = json.dumps({"session": session, "accepted": step % 2 == 0, "t": float(step)}).encode()
                mine.append((PATHS["feedback"], body))
            else:
                mine.append((PATHS["suggest"], request_body(contexts[(index * 13 + step) % len(contexts)], top_k, session)))
        made.append(mine)
    return made


def run_load(url: str, contexts, clients: int, requests: int, top_k: int, feedback_every: int) -> dict:
    load = run_clients(url, plans(contexts, clients, requests, top_k, feedback_every))
    total, answered = sum(load["statuses"].values()), load["statuses"]["200"]
    return {
        "requests": total,
        "clients": clients,
        "statuses": dict(sorted(load["statuses"].items())),
        "errors": total - answered,
        "seconds": round(load["seconds"], 2),
        "requests_per_s": round(answered / load["seconds"], 1),
        "latency": {name: summary(load["latencies"].get(path, [])) for name, path in PATHS.items()},
    }


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--domain", default="tags", help="the domain (`nep domains` lists them)")
    parser.add_argument("--model", default="ngram", help="checkpoint folder, or a baseline (ngram / repeat-last / most-frequent), which the server fits on the train split of --data")
    parser.add_argument("--requests", type=positive_int, default=10_000, help="requests of the measured run, all clients together")
    parser.add_argument("--clients", type=positive_int, default=32, help="concurrent clients")
    parser.add_argument("--warmup", type=non_negative_int, default=500, help="requests before the first memory reading (0: none)")
    parser.add_argument("--top-k", type=positive_int, default=3, help="suggestions asked for")
    parser.add_argument("--feedback-every", type=non_negative_int, default=10, help="every Nth request of a client is feedback (0: none)")
    parser.add_argument("--data", default=None, help="sessions to draw requests from (default: the domain's default data)")
    args = parser.parse_args()

    from nep_core.plugins import get_domain

    domain = get_domain(args.domain)
    check_models(args.model, domain=domain.name, domain_option=True)
    contexts, _ = held_out_contexts(domain, args.data, 200)
    with tempfile.TemporaryDirectory(prefix="nep-load-") as feedback_dir:
        progress("starting nep serve")
        process, url = start_server(args.domain, args.model, args.data, feedback_dir, speculate=True)
        try:
            warm = None
            if args.warmup:
                progress(f"warm-up: {args.warmup} requests")
                warm = run_load(url, contexts, args.clients, args.warmup, args.top_k, args.feedback_every)
            before = memory_mb(process.pid)
            progress(f"load: {args.requests} requests from {args.clients} clients")
            load = run_load(url, contexts, args.clients, args.requests, args.top_k, args.feedback_every)
            after = memory_mb(process.pid)
            health = server_health(url)
            alive = process.poll() is None
        finally:
            stop_server(process)
    report = {
        "domain": args.domain,
        "model": args.model,
        "warmup": {"requests": warm["requests"], "errors": warm["errors"]} if warm else None,
        "load": load,
        "server_alive_after": alive and health.get("status") == "ok",
        "rss_mb_before": before["VmRSS"],
        "rss_mb_after": after["VmRSS"],
        "rss_growth_mb": round(after["VmRSS"] - before["VmRSS"], 1),
        "rss_peak_mb": after["VmHWM"],
        "speculation": health.get("speculation"),
        "machine": machine(),
    }
    print(json.dumps(report, indent=2))
    if load["errors"] or (warm and warm["errors"]) or not report["server_alive_after"]:
        sys.exit(1)


if __name__ == "__main__":
    run_main(main)
