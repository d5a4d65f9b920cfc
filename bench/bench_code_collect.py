"""Code collectors' speed; prints JSON.

    python bench/bench_code_collect.py [--repo PATH] [--commits 300] [--runs 5]

``git``: commits read per second (median of ``--runs``) with the default filters and with
``filters=0``, on a repository the bench builds (``--commits`` commits, each editing 1-3 real
standard-library files in 1-4 places) and on ``--repo`` (default: this checkout's own history).
``lintseq``: sessions and files per second for the default corpus (the standard library).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}


def git(repo: Path, *args: str, env: dict | None = None) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env or ENV)


def build_repository(folder: Path, commits: int, seed: int = 0) -> Path:
    """A history of small edits to real standard-library files."""
    from nep_code.collectors.pycorpus import corpus_files, stdlib_root

    rng = random.Random(seed)
    root = stdlib_root()
    sources = [path for path in corpus_files(root) if 2_000 < path.stat().st_size < 60_000]
    chosen = rng.sample(sources, 30)
    files = {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True) for path in chosen}
    git(folder, "init", "-q")
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
        git(folder, "add", "-A")
        stamp = f"@{1_700_000_000 + 600 * number} +0000"
        git(folder, "commit", "-q", "-m", f"change {number}", env={**ENV, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp})
    return folder


def measure_git(repo: Path, options: str, runs: int) -> dict:
    from nep_core.collector import CollectReport
    from nep_code.collectors.git import GitCollector

    rates, report, sessions = [], CollectReport(), 0
    for _ in range(runs):
        report = CollectReport()
        started = time.perf_counter()
        sessions = sum(1 for _ in GitCollector(None).collect(f"{repo}{options}", report))
        rates.append(report.counts.get("commits read", 0) / (time.perf_counter() - started))
    return {"options": options or "(defaults)", "commits": report.counts.get("commits read", 0), "sessions": sessions,
            "edits": report.counts.get("edits", 0), "commits_per_s_median": round(statistics.median(rates), 1),
            "commits_per_s_runs": [round(rate, 1) for rate in rates]}


def measure_lintseq(sessions: int, runs: int) -> dict:
    from nep_core.collector import CollectReport
    from nep_code.collectors.lintseq import LintSeqCollector

    seconds, report = [], CollectReport()
    for _ in range(runs):
        report = CollectReport()
        started = time.perf_counter()
        made = sum(1 for _ in LintSeqCollector(None).collect(f"?sessions={sessions}", report))
        seconds.append(time.perf_counter() - started)
    median = statistics.median(seconds)
    return {"sessions": made, "edits": report.counts.get("edits", 0), "files_read": report.counts.get("files read", 0),
            "seconds_median": round(median, 2), "sessions_per_s": round(made / median, 1),
            "files_per_s": round(report.counts.get("files read", 0) / median, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lintseq-sessions", type=int, default=1200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        built = build_repository(Path(tmp), args.commits)
        result = {
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "git_built": [measure_git(built, options, args.runs) for options in ("", "?filters=0")],
            "git_repo": {"path": args.repo, "runs": [measure_git(Path(args.repo), options, args.runs) for options in ("", "?filters=0")]},
            "lintseq": measure_lintseq(args.lintseq_sessions, max(1, args.runs // 2)),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
