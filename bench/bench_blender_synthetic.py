"""Synthetic blender session generation (real bpy, worker processes); prints JSON.

    python bench/bench_blender_synthetic.py --sessions 60

Generates the same sessions (same seed) with 1 worker (``serial``) and with ``--workers`` workers
(``parallel``; default ``os.cpu_count()``) in the same run: each side once untimed (a warm-up: bpy's
files in the page cache), then ``--runs`` times, the two sides alternating which goes first. Figures per side, of its
median run (by wall time): sessions and actions per second of wall time (bpy start-up included),
and the median and p95 milliseconds one session takes inside a worker; ``speedup`` is the parallel
median sessions per second over the serial one. Progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    argument_parser, machine, median, non_negative_int, odd_int, percentile, positive_int, progress, ratio, run_main,
)


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
        "session_ms_p50": round(median(session_ms), 1),
        "session_ms_p95": round(percentile(session_ms, 95), 1),
    }


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time (``runs`` is odd), with every run's sessions per second."""
    middle = median([run["seconds"] for run in runs])
    return {**next(run for run in runs if run["seconds"] == middle), "sessions_per_s_runs": [run["sessions_per_s"] for run in runs]}


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--sessions", type=positive_int, default=60, help="sessions generated per run")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the synthetic artist's seed")
    parser.add_argument("--runs", type=odd_int, default=3, help="timed runs per side, odd (the median is one of them)")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="worker processes of the parallel side (default: os.cpu_count(); 1: the serial side alone)")
    options = parser.parse_args()
    from nep_blender.registry import installed_bpy_version, load_registry

    load_registry()  # read once, outside the timings
    parallel = options.workers or os.cpu_count() or 1
    sides = {"serial": 1, "parallel": parallel} if parallel > 1 else {"serial": 1}
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    for number in range(options.runs + 1):  # the first round is a warm-up
        names = list(sides) if number % 2 == 0 else list(reversed(sides))
        for name in names:
            progress(f"{'warm-up' if number == 0 else f'run {number} of {options.runs}'}: {name}")
            measured = measure(options.sessions, sides[name], options.seed)
            if number:
                runs[name].append(measured)
    figures = {name: median_run(entries) for name, entries in runs.items()}
    print(json.dumps({
        "bench": "blender synthetic generation",
        "bpy": installed_bpy_version(),
        "cpus": os.cpu_count(),
        "workers": parallel,
        "runs": options.runs,
        **figures,
        "speedup": ratio(figures["parallel"]["sessions_per_s"], figures["serial"]["sessions_per_s"], 2) if "parallel" in figures else None,
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    run_main(main)
