"""Blender replay-verifier throughput (real bpy worker processes); prints JSON.

    python bench/bench_blender_verifier.py --sessions 12

Every edit trigger point of ``--sessions`` synthetic sessions is verified with the user's real next
call as the suggestion, the way ``nep eval`` asks (``verify_many``, one batch). Three set-ups run on
the same items in the same run:

- ``from_scratch``: one worker, every request replays its whole history from the empty scene (the baseline);
- ``prefix_reuse``: one worker, a session's growing history replays only its new calls;
- ``prefix_reuse_parallel``: the same over ``--workers`` workers (default: ``os.cpu_count()``).

Figures: verifies per second and replayed calls per second of wall time (bpy start-up excluded: the
workers are warmed first), the share of items judged valid, and speed-ups over the baseline. Each
set-up runs ``--repeats`` times (odd) on fresh workers, the set-ups taking turns in an order rotated
from one repeat to the next; the run of median wall time is reported, with every run's verifies per
second. Progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import argument_parser, machine, median, non_negative_int, odd_int, positive_int, progress, run_main  # noqa: E402


def items_of(sessions, domain):
    from nep_core.examples import ExampleConfig, make_examples

    items = []
    config = ExampleConfig(max_no_edit_share=None, max_no_jump_share=None)
    for session in sessions:
        for example in make_examples(session, domain, config):
            if not example.target.is_no_edit:
                items.append((example.context, example.target, example.target))
    return items


def measure(domain, items, workers: int, reuse: bool) -> dict:
    from nep_blender.verifier import ReplayVerifier
    from nep_core.actions import NO_EDIT

    with ReplayVerifier(domain.action_space, workers=workers, timeout=60, reuse_prefix=reuse) as verifier:
        verifier.verify_many([(items[0][0], NO_EDIT, None)])  # nothing to replay: no worker starts
        for worker in verifier.pool:
            worker.start()
        started = time.perf_counter()
        verdicts = verifier.verify_many(items)
        seconds = time.perf_counter() - started
        stats = dict(verifier.stats)
    return {
        "seconds": seconds,
        "verifies_per_s": len(items) / seconds,
        "replayed_calls_per_s": stats["replayed_calls"] / seconds,
        "replayed_calls": stats["replayed_calls"],
        "valid_share": sum(verdict.valid for verdict in verdicts) / len(verdicts),
        "failures": stats["failures"],
    }


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time (``runs`` is odd), rounded, with every run's verifies per second."""
    middle = median([run["seconds"] for run in runs])
    run = next(run for run in runs if run["seconds"] == middle)
    return {**{key: round(value, 3) if isinstance(value, float) else value for key, value in run.items()},
            "verifies_per_s_runs": [round(entry["verifies_per_s"], 3) for entry in runs]}


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--sessions", type=positive_int, default=12, help="synthetic sessions whose edits are verified")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the synthetic artist's seed")
    parser.add_argument("--repeats", type=odd_int, default=3, help="runs per set-up, odd (the median is one of them)")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="worker processes of prefix_reuse_parallel (default: os.cpu_count())")
    options = parser.parse_args()
    from nep_blender.registry import installed_bpy_version
    from nep_core.collector import CollectReport
    from nep_core.errors import NepError
    from nep_core.plugins import get_domain

    domain = get_domain("blender")
    progress(f"generating {options.sessions} synthetic sessions")
    sessions = list(domain.collectors["synthetic"].collect(str(options.sessions), CollectReport(), seed=options.seed))
    items = items_of(sessions, domain)
    if not items:
        raise NepError(f"{options.sessions} synthetic sessions hold no edit to verify; ask for more --sessions")
    cpus = os.cpu_count() or 1
    workers = options.workers or cpus
    setups = {"from_scratch": (1, False), "prefix_reuse": (1, True), "prefix_reuse_parallel": (workers, True)}
    runs: dict[str, list[dict]] = {name: [] for name in setups}
    names = list(setups)
    for repeat in range(options.repeats):
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:
            progress(f"repeat {repeat + 1} of {options.repeats}: {name}")
            runs[name].append(measure(domain, items, *setups[name]))
    results = {name: median_run(entries) for name, entries in runs.items()}
    baseline = results["from_scratch"]["verifies_per_s"]
    for name, result in results.items():
        result["speedup_vs_from_scratch"] = round(result["verifies_per_s"] / baseline, 2)
    print(json.dumps({
        "bench": "blender replay verifier",
        "bpy": installed_bpy_version(),
        "cpus": cpus,
        "workers": workers,
        "sessions": len(sessions),
        "items": len(items),
        "mean_history_calls": round(statistics.mean(len(context.history) for context, _, _ in items), 1),
        "repeats": options.repeats,
        "results": results,
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    run_main(main)
