"""bench/bench_video_histories.py makes project histories from timeline files and scores predictors on them as nep eval would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import opentimelineio as otio

from video_timelines import clip, interview, write

REPO = Path(__file__).resolve().parents[2]


def cut_with_b_roll(rate: float) -> otio.schema.Timeline:
    timeline = interview(8, rate=rate)
    timeline.tracks[0].insert(3, clip("BROLL_city", 200, 72, rate))
    timeline.tracks[0].insert(6, clip("BROLL_sea", 400, 60, rate))
    return timeline


def test_the_bench_saves_versions_in_the_timelines_own_format_and_scores_every_predictor(tmp_path: Path) -> None:
    folder = tmp_path / "timelines"
    folder.mkdir()
    write(cut_with_b_roll(25.0), folder / "pal.edl", "cmx_3600")
    write(cut_with_b_roll(24.0), folder / "film.xml", "fcp_xml")
    (folder / "notes.txt").write_text("not a timeline")
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_video_histories.py"), "--model", "ngram", "--timelines", str(folder), "--histories", "2"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["projects"] + report["projects_with_too_few_edits"] == 4 and report["projects"] >= 2
    assert report["timelines_used"] == 2 and {".edl", ".xml"} <= set(report["saved_as"]) and report["skipped"] == []
    figures = report["figures"]
    assert set(figures) == {"model", "repeat-last", "most-frequent", "ngram"}
    examples = figures["model"]["examples"]
    assert examples >= 2 * report["projects"]  # the newest edit of each project, then its end
    assert all(figures[name]["examples"] == examples for name in figures)
    assert all(0 <= figures[name]["exact_match_top1"] <= 1 for name in figures)
    best = max(figures[name]["exact_match_top1"] for name in figures if name != "model")
    assert report["model_exact_top1_minus_best_baseline"] == round(figures["model"]["exact_match_top1"] - best, 4)


def test_no_project_scored_gives_no_difference_to_the_best_baseline_not_zero(tmp_path: Path) -> None:
    from inference_helpers import save_random_checkpoint

    from nep_core.plugins import get_domain

    model = save_random_checkpoint(tmp_path / "model", get_domain("video"))  # loads faster than fitting a baseline on the default data
    folder = tmp_path / "timelines"
    folder.mkdir()
    write(interview(1), folder / "one.otio")  # one clip, one pass: too few edits to split a history in time
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_video_histories.py"), "--model", str(model), "--timelines", str(folder),
         "--histories", "1", "--passes", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["projects"] == 0 and report["projects_with_too_few_edits"] == 1
    assert all(figures["examples"] == 0 for figures in report["figures"].values())
    assert report["model_exact_top1_minus_best_baseline"] is None
