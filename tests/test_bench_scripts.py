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
                    "--concurrency", "1,3", "--throughput-requests", "10", home=tmp_path)
    assert (figures["domain"], figures["requests"]) == ("tags", 5)
    assert 0 < figures["in_process"]["p50_ms"] <= figures["in_process"]["p95_ms"]
    assert 0 < figures["server"]["p50_ms"] <= figures["server"]["p95_ms"]
    # the answers the server predicted, apart from those it had computed ahead (a speculation the session then met)
    hits = (figures["server_from_speculation"] or {"count": 0})["count"]
    assert figures["server"]["count"] + hits == 5 and figures["server_from_speculation_share"] == round(hits / 5, 3)
    assert figures["server_handler"]["count"] == figures["server"]["count"]
    assert [phase["clients"] for phase in figures["throughput"]] == [1, 3]
    for phase in figures["throughput"]:
        assert phase["errors"] == 0 and phase["statuses"] == {"200": 10} and phase["requests_per_s"] > 0  # 4 + 3 + 3
        assert phase["latency"]["count"] == 10
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


def test_the_synthetic_drawing_bench_times_odd_runs_after_an_untimed_warm_up(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "bench" / "bench_krita_synthetic.py"), "--sessions", "3", "--runs", "3"],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "NEP_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["warm-up", "run 1 of 3", "run 2 of 3", "run 3 of 3"]
    figures = json.loads(result.stdout)
    assert figures["runs"] == 3 and len(figures["seconds_all"]) == 3 and figures["seconds_warmup"] > 0
    assert figures["seconds_median"] == sorted(figures["seconds_all"])[1]


SERVER_MEMORY_FIGURES = {
    "bench", "domain", "where", "sessions", "size", "request_bytes", "warmup", "seconds", "accepts", "rss_mb_before", "rss_mb_after",
    "rss_growth_mb", "rss_peak_mb", "rss_mb_caches_emptied", "rss_mb_after_malloc_trim", "history_cache", "speculation_cache",
    "speculation", "machine",
}


def test_the_server_memory_bench_keeps_each_cache_within_its_byte_budget(tmp_path):
    figures = bench("bench_server_memory.py", "--sessions", "4", "--size", "30000", "--budget", "100000", "--warmup", "1", home=tmp_path)
    assert set(figures) == SERVER_MEMORY_FIGURES
    assert (figures["where"], figures["sessions"], figures["size"]) == ("history", 4, 30000) and figures["request_bytes"] > 30000
    assert figures["accepts"] == {"from_speculation": 4, "predicted_afresh": 0} and figures["speculation"]["hits"] == 4
    assert 0 < figures["rss_mb_before"] <= figures["rss_peak_mb"] and figures["rss_mb_after"] <= figures["rss_peak_mb"]
    for name in ("history_cache", "speculation_cache"):
        cache = figures[name]  # three sessions of 30 KB fit in 100 KB, four do not: the first was dropped
        assert cache["max_bytes"] == 100_000 and 90_000 < cache["kept_bytes"] <= 100_000 and cache["sessions"] == 3, cache
    assert figures["history_cache"]["held_bytes"]["keys"] >= figures["history_cache"]["kept_bytes"]
    assert figures["history_cache"]["held_bytes"]["events"] > 90_000  # the file, parsed
    speculation = figures["speculation_cache"]["held_bytes"]
    assert speculation["all"] > 90_000 and speculation["not_in_history_cache"] < 30_000  # the events are the history cache's


def test_the_server_memory_bench_answers_a_session_over_the_budget_without_keeping_it(tmp_path):
    figures = bench("bench_server_memory.py", "--sessions", "2", "--size", "150000", "--budget", "100000", "--where", "state",
                    "--warmup", "0", home=tmp_path)
    assert figures["accepts"] == {"from_speculation": 0, "predicted_afresh": 2} and figures["warmup"] == 0
    assert figures["speculation_cache"]["sessions"] == figures["speculation_cache"]["kept_bytes"] == 0
    assert figures["speculation_cache"]["held_bytes"] == {"all": 0, "not_in_history_cache": 0}
    assert figures["history_cache"]["sessions"] == 2 and 0 < figures["history_cache"]["kept_bytes"] < 10_000  # the histories alone


def test_the_latency_bench_shares_the_throughput_requests_out_exactly(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    import bench_latency

    sent = []
    monkeypatch.setattr(bench_latency, "request_body", lambda context, top_k, session: session.encode())
    monkeypatch.setattr(bench_latency, "run_clients", lambda url, plans: sent.append([len(plan) for plan in plans]) or
                        {"seconds": 1.0, "statuses": {"200": sum(map(len, plans))}, "latencies": {}})
    for clients, requests in ((3, 10), (4, 4), (8, 200), (7, 9)):
        assert bench_latency.time_throughput("http://127.0.0.1:1", ["context"], 3, clients, requests)["requests"] == requests
        assert sum(sent[-1]) == requests and len(sent[-1]) == clients and max(sent[-1]) - min(sent[-1]) <= 1


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
    ("bench_krita_synthetic.py", "--runs", "2"),
    ("bench_latency.py", "--domain", "tags", "--model", "ngram", "--accept-after", "-1"),
    ("bench_latency.py", "--domain", "tags", "--model", "ngram", "--accept-after", "nan"),
    ("bench_latency.py", "--domain", "tags", "--model", "ngram", "--throughput-requests", "5"),  # fewer than 32 clients
    ("bench_krita_drawings.py", "--model", "ngram", "--drawings", ".", "--min-probability", "1.5"),
    ("bench_krita_drawings.py", "--model", "ngram", "--drawings", ".", "--min-probability", "-0.1"),
    ("bench_blender_scripts.py", "--model", "ngram", "--scripts", ".", "--min-confidence", "2"),
    ("bench_blender_scripts.py", "--model", "ngram", "--scripts", ".", "--min-confidence", "-1"),
    ("bench_krita_drawings.py", "--model", "ngram", "--drawings", "no-such-folder"),
    ("bench_blender_scripts.py", "--model", "no-such-model", "--scripts", "."),
    ("bench_blender_verifier.py", "--repeats", "0"),
    ("bench_video_histories.py", "--model", "ngram", "--timelines", "no-such-folder"),
    ("pypi_release_repo.py", "hypothesis", "--last", "0", "--out", "no-such-folder"),
    ("bench_server_memory.py", "--sessions", "0"),
    ("bench_server_memory.py", "--where", "disk"),
    ("bench_server_memory.py", "--budget", "1e6"),
]


@pytest.mark.parametrize("arguments", BAD_INPUT, ids=" ".join)
def test_bad_input_is_one_line_and_exit_status_2_before_any_work(tmp_path, arguments):
    result = subprocess.run([sys.executable, str(REPO / "bench" / arguments[0]), *arguments[1:]], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path, env={**os.environ, "NEP_HOME": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: "), result.stderr


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The ``error:`` line a script ended with (exit status 2, nothing on stdout); progress lines before it are allowed."""
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert "Traceback" not in result.stderr and result.stderr.splitlines()[-1].startswith("error: "), result.stderr
    return result.stderr.splitlines()[-1]


def run_script(script: str, *args: str, home: Path, cwd: Path | None = None, env: dict | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env={**os.environ, "NEP_HOME": str(home), **(env or {})})


ONE_DOMAIN = [  # scripts with a domain of their own (no --domain) and what else each needs
    ("bench_blender_scripts.py", "--scripts", "."),
    ("bench_krita_drawings.py", "--drawings", "."),
    ("bench_krita_plugin.py",),
    ("bench_video_histories.py", "--timelines", "."),
    ("bench_code_histories.py", "--repos", "."),
]


@pytest.mark.parametrize("arguments", ONE_DOMAIN, ids=lambda arguments: arguments[0])
def test_a_checkpoint_of_another_domain_is_refused_without_suggesting_a_domain_option_the_script_lacks(tmp_path, arguments):
    turtle = tmp_path / "turtle"
    turtle.mkdir()
    (turtle / "nep.json").write_text(json.dumps({"nep": 1, "domain": "turtle"}))  # all that is read before any work
    said = one_line_error(run_script(arguments[0], "--model", str(turtle), *arguments[1:], home=tmp_path, cwd=tmp_path))
    assert "checkpoint is for domain 'turtle'" in said and "--domain" not in said, said
    assert said.startswith(f"error: --model {turtle}: ") and said.endswith("checkpoint")


def test_a_checkpoint_of_another_domain_in_a_script_with_a_domain_option_suggests_it(tmp_path):
    turtle = tmp_path / "turtle"
    turtle.mkdir()
    (turtle / "nep.json").write_text(json.dumps({"nep": 1, "domain": "turtle"}))
    said = one_line_error(run_script("bench_latency.py", "--domain", "tags", "--model", str(turtle), home=tmp_path, cwd=tmp_path))
    assert "pass --domain turtle or a tags model" in said, said


@pytest.fixture(scope="module")
def blender_model(tmp_path_factory):
    """An untrained `tiny` blender checkpoint: loads in a second, predicts any operator."""
    from inference_helpers import save_random_checkpoint

    from nep_core.plugins import get_domain

    return save_random_checkpoint(tmp_path_factory.mktemp("blender") / "model", get_domain("blender"), seed=4)


def test_scripts_or_drawings_nep_cannot_read_are_named_not_an_option_the_script_lacks(tmp_path, blender_model):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a drawing\n")
    said = one_line_error(run_script("bench_blender_scripts.py", "--model", str(blender_model), "--scripts", str(tmp_path / "empty"),
                                     "--rounds", "1", home=tmp_path))
    assert said == f"error: no scripts NEP could read in {tmp_path / 'empty'} (a function or module with two bpy.ops calls or more); pass another --scripts"
    said = one_line_error(run_script("bench_krita_drawings.py", "--model", "repeat-last", "--drawings", str(tmp_path / "notes.txt"),
                                     "--rounds", "1", home=tmp_path))
    assert said.startswith(f"error: no drawings NEP could read in {tmp_path / 'notes.txt'}") and "--data" not in said, said


def test_a_krita_that_fails_to_start_is_one_line_not_a_traceback(tmp_path):
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    for name in ("krita", "xvfb-run"):  # neither needs to be installed: both fail at once
        (fakebin / name).write_text(f"#!/bin/sh\necho '{name}: cannot start' >&2\nexit 1\n")
        (fakebin / name).chmod(0o755)
    result = run_script("bench_krita_plugin.py", "--model", "repeat-last", home=tmp_path,
                        env={"PATH": os.pathsep.join([str(fakebin), os.environ.get("PATH", "")])})
    said = one_line_error(result)
    assert said.startswith(f"error: Krita ({fakebin / 'krita'}): the probe wrote no result: rc=1") and "cannot start" in said, said
    assert len(result.stderr.splitlines()) == 1


BLENDER_SCRIPT = """
import bpy


def table_{n}(width):
    bpy.ops.object.select_all(action='DESELECT')
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0, 0, {n}))
    bpy.ops.transform.resize(value=(width, 1.0, 0.05))
    bpy.ops.object.modifier_add(type='BEVEL')
    bpy.ops.object.shade_smooth()


def lamp_{n}():
    bpy.ops.object.select_all(action='DESELECT')
    bpy.ops.object.light_add(type='POINT', location=(0, {n}, 3))
    bpy.ops.transform.translate(value=(1.0, 0.0, 0.0))
"""


def test_the_blender_scripts_bench_scores_a_checkpoint_against_the_baselines_on_scripts(tmp_path, blender_model):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for number in range(6):  # fewer than ten: one split group per file
        (scripts / f"script{number}.py").write_text(BLENDER_SCRIPT.format(n=number))
    figures = bench("bench_blender_scripts.py", "--model", str(blender_model), "--scripts", str(scripts), "--rounds", "2",
                    "--min-confidence", "0", home=tmp_path)
    assert figures["sessions"] == 12 and figures["split_groups"] == 6 and figures["rounds"] == 2 and figures["min_confidence"] == 0
    assert len(figures["held_out_examples_rounds"]) == 2 and all(size > 0 for size in figures["held_out_examples_rounds"])
    assert figures["examples_pooled"] == sum(figures["held_out_examples_rounds"]) >= figures["distinct_held_out_examples"] > 0
    assert set(figures["operator_top1_pooled"]) == {"model", "repeat-last", "ngram"}
    for name, top1 in figures["operator_top1_pooled"].items():
        assert 0 <= top1 <= 1 and 0 <= figures["operator_top1_when_an_edit_follows_pooled"][name] <= 1
        rounds = figures["operator_top1_rounds"][name]
        assert len(rounds["per_round"]) == 2 and rounds["min"] <= rounds["median"] <= rounds["max"]
    assert figures["operator_top1_model_mean_pooled"] == figures["operator_top1_pooled"]["model"]
    assert figures["fine_tune_steps"] == 0 and figures["model"] == str(blender_model)


def test_the_blender_synthetic_bench_times_serial_and_parallel_generation(tmp_path):
    figures = bench("bench_blender_synthetic.py", "--sessions", "2", "--runs", "1", "--workers", "2", home=tmp_path)
    assert figures["runs"] == 1 and figures["workers"] == 2 and figures["bpy"]
    for side, workers in (("serial", 1), ("parallel", 2)):
        run = figures[side]
        assert run["workers"] == workers and run["sessions"] == 2 and run["dropped"] == 0 and run["actions"] > 0
        assert run["sessions_per_s"] > 0 and 0 < run["session_ms_p50"] <= run["session_ms_p95"]
        assert run["sessions_per_s_runs"] == [run["sessions_per_s"]]
    assert figures["serial"]["actions"] == figures["parallel"]["actions"]  # the same sessions: same seed
    assert figures["speedup"] == round(figures["parallel"]["sessions_per_s"] / figures["serial"]["sessions_per_s"], 2)


def test_the_blender_verifier_bench_times_the_three_set_ups_on_the_same_items(tmp_path):
    figures = bench("bench_blender_verifier.py", "--sessions", "1", "--repeats", "1", "--workers", "2", home=tmp_path)
    assert figures["sessions"] == 1 and figures["items"] > 0 and figures["workers"] == 2 and figures["repeats"] == 1
    results = figures["results"]
    assert set(results) == {"from_scratch", "prefix_reuse", "prefix_reuse_parallel"}
    assert results["from_scratch"]["speedup_vs_from_scratch"] == 1.0
    for result in results.values():
        assert result["failures"] == 0 and result["valid_share"] == 1.0  # the user's real next call replays
        assert result["verifies_per_s"] > 0 and result["verifies_per_s_runs"] == [result["verifies_per_s"]]
    # reusing a session's replayed prefix replays fewer calls than starting from the empty scene each time
    assert results["prefix_reuse"]["replayed_calls"] < results["from_scratch"]["replayed_calls"]


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
