"""bench/bench_code_collect.py measures the git and lintseq collectors on histories it builds and on a
real git repository made in tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_code_histories_bench import REPO, history


def test_the_collect_bench_reads_every_commit_of_both_repositories(tmp_path: Path) -> None:
    history(tmp_path / "real", 4)
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_code_collect.py"), "--commits", "3", "--runs", "1",
         "--lintseq-sessions", "2", "--repo", str(tmp_path / "real")],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    built, real = figures["git_built"], figures["git_repo"]
    runs = [built["defaults"], built["filters_0"]]
    assert [run["options"] for run in runs] == ["(defaults)", "?filters=0"]
    assert all(run["commits"] == 4 and run["commits_per_s_median"] > 0 and len(run["commits_per_s_runs"]) == 1 for run in runs)  # 3 changes after the first
    assert built["filters0_to_defaults"] == round(built["filters_0"]["commits_per_s_median"] / built["defaults"]["commits_per_s_median"], 3)
    assert all(real[name]["commits"] == 4 and real[name]["sessions"] >= 1 for name in ("defaults", "filters_0"))
    assert figures["lintseq"]["sessions"] == 2 and figures["lintseq"]["sessions_per_s"] > 0
