"""Code collectors' speed; prints JSON.

    python bench/bench_code_collect.py [--repo PATH] [--commits 300] [--runs 5]

``git``: commits read per second with the default filters and with ``filters=0``, on a repository
the bench builds (``--commits`` commits, each editing 1-3 real standard-library files in 1-4 places)
and on ``--repo`` (default: this checkout's own history). Each setting first runs once untimed (a
warm-up: the files in the page cache, git's own caches), then ``--runs`` times, the two settings
alternating which goes first; figures are the median run's, and ``filters0_to_defaults`` is the
``filters=0`` median over the defaults' median. ``lintseq``: sessions and files per second for the
default corpus (the standard library), the median of ``--runs`` after a warm-up run. Progress goes
to stderr.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import argument_parser, existing_path, git, machine, median, odd_int, positive_int, progress, ratio, run_main  # noqa: E402

ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
SETTINGS = {"defaults": "", "filters_0": "?filters=0"}


def build_repository(folder: Path, commits: int, seed: int = 0) -> Path:
    """A history of small edits to real standard-library files."""
    from nep_code.collectors.pycorpus import corpus_files, stdlib_root

    rng = random.Random(seed)
    root = stdlib_root()
    sources = [path for path in corpus_files(root) if 2_000 < path.stat().st_size < 60_000]
    chosen = rng.sample(sources, 30)
    files = {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True) for path in chosen}
    git(folder, "init", "-q", env=ENV)
    for number in range(commits + 1):
        names = list(files) if number == 0 else rng.sample(sorted(files), rng.randint(1, 3))
        for name in names:
            lines = files[name]
            if number:
                for _ in range(rng.randint(1, 4)):
                    at = rng.randrange(len(lines))
                    kind = rng.random()
                    if kind < 0.4:
                        lines[at] = lines[at].rstrip("\n") + "  # changed\n"
                    elif kind < 0.8:
                        lines.insert(at, " " * (len(lines[at]) - len(lines[at].lstrip())) + f"step_{number} = {at}\n")
                    elif len(lines) > 10:
                        del lines[at]
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(lines), encoding="utf-8")
        git(folder, "add", "-A", env=ENV)
        stamp = f"@{1_700_000_000 + 600 * number} +0000"
        git(folder, "commit", "-q", "-m", f"change {number}", env={**ENV, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    return folder


def collect_git(repo: Path, options: str) -> tuple[float, dict]:
    """One run of the ``git`` collector: commits read per second, and what it read."""
    from nep_core.collector import CollectReport
    from nep_code.collectors.git import GitCollector

    report = CollectReport()
    started = time.perf_counter()
    sessions = sum(1 for _ in GitCollector(None).collect(f"{repo}{options}", report))
    commits = report.counts.get("commits read", 0)
    return commits / (time.perf_counter() - started), {"commits": commits, "sessions": sessions, "edits": report.counts.get("edits", 0)}


def measure_git(repo: Path, runs: int) -> dict:
    """Each setting once untimed, then ``runs`` times, the order alternating; per setting its median run."""
    rates: dict[str, list[float]] = {name: [] for name in SETTINGS}
    read: dict[str, dict] = {}
    for number in range(runs + 1):
        names = list(SETTINGS) if number % 2 == 0 else list(reversed(SETTINGS))
        for name in names:
            rate, read[name] = collect_git(repo, SETTINGS[name])
            if number:
                rates[name].append(rate)
    figures = {name: {"options": SETTINGS[name] or "(defaults)", **read[name], "commits_per_s_median": round(median(rates[name]), 1),
                      "commits_per_s_runs": [round(rate, 1) for rate in rates[name]]} for name in SETTINGS}
    figures["filters0_to_defaults"] = ratio(figures["filters_0"]["commits_per_s_median"], figures["defaults"]["commits_per_s_median"])
    return figures


def measure_lintseq(sessions: int, runs: int) -> dict:
    from nep_core.collector import CollectReport
    from nep_code.collectors.lintseq import LintSeqCollector

    seconds, report, made = [], CollectReport(), 0
    for number in range(runs + 1):  # the first is a warm-up
        report = CollectReport()
        started = time.perf_counter()
        made = sum(1 for _ in LintSeqCollector(None).collect(f"?sessions={sessions}", report))
        if number:
            seconds.append(time.perf_counter() - started)
    middle = median(seconds)
    return {"sessions": made, "edits": report.counts.get("edits", 0), "files_read": report.counts.get("files read", 0),
            "seconds_median": round(middle, 2), "seconds_runs": [round(value, 2) for value in seconds],
            "sessions_per_s": round(made / middle, 1), "files_per_s": round(report.counts.get("files read", 0) / middle, 1)}


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--repo", type=existing_path, default=str(Path(__file__).resolve().parents[1]),
                        help="a git repository (working copy) to read as well")
    parser.add_argument("--commits", type=positive_int, default=300, help="commits of the repository the bench builds")
    parser.add_argument("--runs", type=odd_int, default=5, help="timed runs per setting, odd (the median is one of them)")
    parser.add_argument("--lintseq-sessions", type=positive_int, default=1200, help="sessions the lintseq collector makes per run")
    args = parser.parse_args()
    git(Path(args.repo), "rev-parse", "--verify", "HEAD")  # a repository with a commit, before building ours
    with tempfile.TemporaryDirectory() as tmp:
        progress(f"building a repository of {args.commits} commits")
        built = build_repository(Path(tmp), args.commits)
        progress("timing git on it")
        git_built = measure_git(built, args.runs)
        progress(f"timing git on {args.repo}")
        git_repo = {"path": args.repo, **measure_git(Path(args.repo), args.runs)}
        progress("timing lintseq")
        result = {
            "runs": args.runs,
            "git_built": git_built,
            "git_repo": git_repo,
            "lintseq": measure_lintseq(args.lintseq_sessions, args.runs),
            "machine": machine(),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    run_main(main)
