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
    figures = bench("bench_latency.py", "--domain", "tags", "--model", "repeat-last", "--requests", "5", "--warmup", "1",
                    "--concurrency", "1,3", "--throughput-requests", "12", home=tmp_path)
    assert (figures["domain"], figures["requests"]) == ("tags", 5)
    assert 0 < figures["in_process"]["p50_ms"] <= figures["in_process"]["p95_ms"]
    assert 0 < figures["server"]["p50_ms"] <= figures["server"]["p95_ms"]
    assert [phase["clients"] for phase in figures["throughput"]] == [1, 3]
    for phase in figures["throughput"]:
        assert phase["errors"] == 0 and phase["statuses"] == {"200": 12} and phase["requests_per_s"] > 0
        assert phase["latency"]["count"] == 12
    assert figures["machine"]["commit"] is None or figures["machine"]["commit"][:1].isalnum()


def test_the_load_bench_times_suggest_and_feedback_apart_without_a_warm_up(tmp_path):
    figures = bench("bench_load.py", "--requests", "40", "--clients", "2", "--warmup", "0", "--feedback-every", "5", home=tmp_path)
    load = figures["load"]
    assert figures["warmup"] is None and load["statuses"] == {"200": 40} and load["errors"] == 0
    assert (load["latency"]["suggest"]["count"], load["latency"]["feedback"]["count"]) == (32, 8)


def test_the_training_bench_times_plain_and_nep_steps(tmp_path):
    figures = bench("bench_train.py", "--domain", "tags", "--steps", "2", "--warmup", "1", "--rounds", "2", home=tmp_path)
    assert figures["plain"]["steps"] == figures["nep"]["steps"] == 2 * 2
    assert figures["order"] == [["plain", "nep"], ["nep", "plain"]] and len(figures["overhead_per_round"]) == 2
    assert figures["precision"] == "32-true"  # the CPU: both sides in float32
    assert figures["plain"]["tokens_per_step_mean"] == figures["nep"]["tokens_per_step_mean"]  # the same batches
    assert figures["plain"]["step_ms_p50"] > 0 and figures["nep"]["tokens_per_s_p50"] > 0
    assert figures["overhead"] == pytest.approx(figures["nep"]["step_ms_p50"] / figures["plain"]["step_ms_p50"], rel=0.01)


def test_the_two_stage_bench_measures_the_speedups_against_a_constrained_top_k_generate(tmp_path):
    from nep_core.training import TrainConfig, train

    edit, location = (train(TrainConfig(domain="tags", preset="tiny", max_steps=3, val_every=3, out=tmp_path / target, progress=False,
                                        target=target)) for target in ("action", "location"))
    figures = bench("bench_two_stage.py", "--domain", "tags", "--model", str(edit), "--location-model", str(location),
                    "--examples", "6", "--warmup", "1", home=tmp_path)
    assert figures["examples"] == 6 and figures["generate_constrained_topk"]["count"] == figures["generate_greedy"]["count"] == 6
    single_p50 = figures["single"]["latency"]["p50_ms"]
    assert figures["speedup_vs_generate_single_p50"] == round(figures["generate_constrained_topk"]["p50_ms"] / single_p50, 3)
    assert figures["speedup_vs_generate_greedy_single_p50"] == round(figures["generate_greedy"]["p50_ms"] / single_p50, 3)


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
        assert figures["speedup"][name] == round(lookup["before"]["median_ms"] / max(lookup["now"]["median_ms"], 1e-6), 1)
    accept = figures["accept"]  # one more hatch line painted through the view (one undo step) and by a merge
    assert accept["view"]["how"] in ("fill", "paintPath") and accept["repeats"] == 7
    assert accept["view_to_merge"] == round(accept["view"]["p50_ms"] / accept["merge"]["p50_ms"], 2)


BAD_INPUT = [
    ("bench_latency.py", "--domain", "tags", "--model", "no-such-model"),
    ("bench_latency.py", "--domain", "no-such-domain", "--model", "ngram"),
    ("bench_latency.py", "--domain", "tags", "--model", "ngram", "--concurrency", "x"),
    ("bench_latency.py", "--domain", "tags", "--model", "ngram", "--requests", "0"),
    ("bench_load.py", "--clients", "0"),
    ("bench_two_stage.py", "--domain", "tags", "--model", "no-such-model", "--location-model", "no-such-model"),
    ("bench_code_histories.py", "--model", "ngram", "--repos", "no-such-repo"),
    ("bench_code_histories.py", "--model", "ngram", "--repos", ".", "--splits", "val,bogus"),
    ("bench_code_again_sites.py", "--repos", "no-such-repo"),
    ("bench_code_collect.py", "--runs", "0"),
    ("bench_krita_synthetic.py", "--runs", "0"),
    ("bench_krita_drawings.py", "--model", "ngram", "--drawings", "no-such-folder"),
    ("bench_blender_scripts.py", "--model", "no-such-model", "--scripts", "."),
    ("bench_blender_verifier.py", "--repeats", "0"),
    ("bench_video_histories.py", "--model", "ngram", "--timelines", "no-such-folder"),
    ("pypi_release_repo.py", "hypothesis", "--last", "0", "--out", "no-such-folder"),
]


@pytest.mark.parametrize("arguments", BAD_INPUT, ids=" ".join)
def test_bad_input_is_one_line_and_exit_status_2_before_any_work(tmp_path, arguments):
    result = subprocess.run([sys.executable, str(REPO / "bench" / arguments[0]), *arguments[1:]], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path, env={**os.environ, "NEP_HOME": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr


@pytest.mark.parametrize("script", sorted(path.name for path in (REPO / "bench").glob("*.py") if not path.name.startswith("_")))
def test_every_script_shows_its_whole_docstring_and_runs_from_the_repository_root_and_from_bench(script):
    for folder in (REPO, REPO / "bench"):
        result = subprocess.run([sys.executable, str(Path(os.path.relpath(REPO / "bench" / script, folder))), "--help"],
                                capture_output=True, text=True, timeout=120, cwd=folder, env={**os.environ, "PYTHONSAFEPATH": "1"})
        assert result.returncode == 0, result.stderr
    last_paragraph = (REPO / "bench" / script).read_text().split('"""')[1].strip().split("\n\n")[-1]
    assert last_paragraph.splitlines()[-1].strip() in result.stdout  # the docstring as written, not its first line
    assert "(default:" in result.stdout


def test_the_shared_statistics_interpolate_between_ranks_as_nep_eval_does(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    from _common import median, percentile, spread, summary

    from nep_core.evaluation.metrics import percentile as eval_percentile

    values = [4.0, 1.0, 3.0, 2.0]
    assert median(values) == 2.5 and percentile(values, 95) == eval_percentile(values, 95) == pytest.approx(3.85)
    assert summary([]) is None and summary(values)["count"] == 4
    assert spread([0.2, 0.1, 0.3]) == {"per_round": [0.2, 0.1, 0.3], "median": 0.2, "min": 0.1, "max": 0.3}
