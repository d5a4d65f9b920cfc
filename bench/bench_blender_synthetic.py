"""Synthetic blender session generation (real bpy, worker processes); prints JSON.

    python bench/bench_blender_synthetic.py --sessions 60

Generates the same sessions (same seed) with 1 worker and with ``os.cpu_count()`` workers in the
same run. Figures: sessions and actions per second of wall time (bpy start-up included), and the
median and p95 milliseconds one session takes inside a worker.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time


def measure(sessions: int, workers: int, seed: int) -> dict:
    from nep_core.collector import CollectReport
    from nep_blender.synthetic.collector import generate_records

    report = CollectReport()
    started = time.perf_counter()
    records = generate_records(seed, sessions, workers, report)
    seconds = time.perf_counter() - started
    kept = [record for record in records.values() if "events" in record]
    actions = sum(len(record["events"]) for record in kept)
    session_ms = sorted(record["ms"] for record in records.values())
    return {
        "workers": workers,
        "sessions": len(kept),
        "dropped": len(records) - len(kept) + report.counts.get("sessions lost to failed workers", 0),
        "actions": actions,
        "seconds": round(seconds, 2),
        "sessions_per_s": round(len(kept) / seconds, 2),
        "actions_per_s": round(actions / seconds, 1),
        "session_ms_p50": round(statistics.median(session_ms), 1),
        "session_ms_p95": round(session_ms[int(0.95 * (len(session_ms) - 1))], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    from nep_blender.registry import installed_bpy_version, load_registry

    load_registry()  # read once, outside the timings
    parallel = os.cpu_count() or 1
    runs = [measure(options.sessions, 1, options.seed)]
    if parallel > 1:
        runs.append(measure(options.sessions, parallel, options.seed))
    print(json.dumps({
        "bench": "blender synthetic generation",
        "bpy": installed_bpy_version(),
        "cpus": parallel,
        "python": platform.python_version(),
        "runs": runs,
        "speedup": round(runs[-1]["sessions_per_s"] / runs[0]["sessions_per_s"], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
