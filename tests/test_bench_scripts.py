"""The benchmark scripts that no other test runs still run: each on a few requests, steps or sessions
of the tags, krita and blender domains, printing the JSON the docs quote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def bench(script: str, *args: str, home: Path) -> dict:
    result = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True,
                            timeout=900, env={**os.environ, "NEP_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_latency_bench_times_requests_in_process_and_through_the_server(tmp_path):
    figures = bench("bench_latency.py", "--domain", "tags", "--model", "repeat-last", "--requests", "5", "--warmup", "1", home=tmp_path)
    assert (figures["domain"], figures["requests"]) == ("tags", 5)
    assert 0 < figures["in_process"]["p50_ms"] <= figures["in_process"]["p95_ms"]
    assert 0 < figures["server"]["p50_ms"] <= figures["server"]["p95_ms"]
    assert all(phase["errors"] == 0 and phase["requests_per_s"] > 0 for phase in figures["throughput"])


def test_the_training_bench_times_plain_and_nep_steps(tmp_path):
    figures = bench("bench_train.py", "--domain", "tags", "--steps", "2", "--warmup", "1", home=tmp_path)
    assert figures["plain"]["steps"] == figures["nep"]["steps"] == 2
    assert figures["plain"]["step_ms_p50"] > 0 and figures["nep"]["tokens_per_s_p50"] > 0
    assert figures["overhead"] == pytest.approx(figures["nep"]["step_ms_p50"] / figures["plain"]["step_ms_p50"], rel=0.01)


def test_the_own_edits_bench_replays_the_users_edits_with_and_without_the_selection_names(tmp_path):
    figures = bench("bench_blender_own_edits.py", "--data", "synthetic:4?scripts=1", "--limit", "200", "--workers", "1", home=tmp_path)
    recorded, every = figures["users_edits"]["recorded"], figures["users_edits"]["all"]
    assert recorded["edits"] > 5 and figures["named_contexts"] == recorded["edits"]  # the synthetic artist names its selections
    assert every["edits"] == sum(group["edits"] for name, group in figures["users_edits"].items() if name != "all")
    for group in figures["users_edits"].values():
        assert set(group["rejected"]) == {"as_logged", "without_names"}
        assert all(0 <= count <= group["edits"] for count in group["rejected"].values())
        assert group["rejected_share"]["as_logged"] == pytest.approx(group["rejected"]["as_logged"] / group["edits"], abs=1e-4)


def test_the_synthetic_drawing_bench_writes_every_stroke(tmp_path):
    figures = bench("bench_krita_synthetic.py", "--sessions", "5", "--runs", "1", home=tmp_path)
    assert figures["sessions_per_s"] > 0 and figures["strokes_per_session"] > 0
    assert figures["actions_unwritable"] == 0


@pytest.mark.skipif(shutil.which("krita") is None or shutil.which("xvfb-run") is None,
                    reason="Krita and a virtual X display are not installed (Debian: apt-get install krita xvfb)")
def test_the_krita_plugin_bench_times_the_plugin_inside_krita(tmp_path):
    figures = bench("bench_krita_plugin.py", "--model", "repeat-last", home=tmp_path)
    assert figures["plugin_error"] == "" and figures["server_status"] == "ok"
    assert figures["main_thread"]["pointer_event"]["count"] >= 40 * 11
    for name, lookup in figures["lookups"].items():
        assert lookup["now"]["found"] == lookup["before"]["found"]
        assert figures["speedup"][name] == pytest.approx(lookup["before"]["median_ms"] / lookup["now"]["median_ms"], rel=0.01)
    accept = figures["accept"]  # one more hatch line painted through the view (one undo step) and by a merge
    assert accept["view"]["how"] in ("fill", "paintPath") and accept["repeats"] == 7
    assert accept["view_to_merge"] == pytest.approx(accept["view"]["p50_ms"] / accept["merge"]["p50_ms"], rel=0.01)
