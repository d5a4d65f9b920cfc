"""Synthetic krita session generation (pure Python, one process); prints JSON.

    python bench/bench_krita_synthetic.py --sessions 200 --runs 5

Generates the same sessions (same seed) once untimed (a warm-up: imports and caches), then
``--runs`` times (odd), and reports the median run: sessions, strokes and actions per second,
milliseconds per session, plus the size of the sessions as JSONL and how many strokes the action
space writes (all should) with its mean token count. Progress goes to stderr.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import argument_parser, machine, median, non_negative_int, odd_int, positive_int, progress, run_main  # noqa: E402


def run_once(sessions: int, seed: int) -> tuple[float, list]:
    from nep_core.collector import CollectReport
    from nep_krita.collectors.synthetic import SyntheticDrawingCollector

    started = time.perf_counter()
    made = list(SyntheticDrawingCollector().collect(str(sessions), CollectReport(), seed))
    return time.perf_counter() - started, made


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--sessions", type=positive_int, default=200, help="sessions generated per run")
    parser.add_argument("--runs", type=odd_int, default=5, help="timed runs after the warm-up, odd (the median one is reported)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the synthetic painter's seed")
    options = parser.parse_args()
    from nep_core.errors import InvalidAction
    from nep_krita.action_space import KritaActionSpace

    progress("warm-up")
    warmup, _ = run_once(options.sessions, options.seed)  # imports and caches: not one of the timed runs
    timings, sessions = [], []
    for number in range(1, options.runs + 1):
        progress(f"run {number} of {options.runs}")
        seconds, sessions = run_once(options.sessions, options.seed)
        timings.append(seconds)
    seconds = median(timings)
    actions = [action for session in sessions for action in session.actions()]
    strokes = [action for action in actions if action.kind == "stroke"]
    space, lengths, unwritable = KritaActionSpace(1024, 768), [], 0
    for action in actions:
        try:
            lengths.append(len(space.encode(action)))
        except InvalidAction:
            unwritable += 1
    jsonl_bytes = sum(len(json.dumps(event.to_json(), separators=(",", ":"))) + 1 for session in sessions for event in session.events)
    print(json.dumps({
        "bench": "krita synthetic generation",
        "sessions": len(sessions),
        "runs": options.runs,
        "seconds_median": round(seconds, 3),
        "seconds_all": [round(value, 3) for value in timings],
        "seconds_warmup": round(warmup, 3),
        "sessions_per_s": round(len(sessions) / seconds, 1),
        "strokes_per_s": round(len(strokes) / seconds, 1),
        "actions_per_s": round(len(actions) / seconds, 1),
        "ms_per_session": round(1000 * seconds / len(sessions), 2),
        "strokes_per_session": round(len(strokes) / len(sessions), 1),
        "jsonl_kb_per_session": round(jsonl_bytes / 1024 / len(sessions), 1),
        "actions_unwritable": unwritable,
        "tokens_per_action_mean": round(statistics.mean(lengths), 1),
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    run_main(main)
