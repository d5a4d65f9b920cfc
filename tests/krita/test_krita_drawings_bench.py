"""bench/bench_krita_drawings.py runs on Quick, Draw! files and prints strict JSON figures per predictor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def drawing(index: int) -> dict:
    """A house-like doodle in the simplified 0-255 format: a box, a roof, a door, a window."""
    shift = 5 * index
    strokes = [
        [[20 + shift, 200, 200, 20 + shift, 20 + shift], [100, 100, 250, 250, 100]],
        [[10, 110 + shift, 210], [100, 10, 100]],
        [[90, 90, 130, 130], [250, 180, 180, 250]],
        [[40, 70, 70, 40, 40], [130, 130, 160, 160, 130]],
    ]
    return {"word": "house", "countrycode": "US", "recognized": True, "key_id": str(1000 + index), "drawing": strokes}


def not_json(name: str):
    raise ValueError(f"{name} is not JSON")


def test_the_bench_scores_predictors_on_drawings_with_the_baselines_fitted_per_round(tmp_path: Path) -> None:
    path = tmp_path / "house.ndjson"
    path.write_text("".join(json.dumps(drawing(index)) + "\n" for index in range(12)))
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_krita_drawings.py"), "--model", "repeat-last", "--drawings", str(path), "--rounds", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout, parse_constant=not_json)
    figures = report["figures_pooled"]
    assert report["sessions"] == 12 and set(figures) == {"model", "repeat-last", "ngram"}
    assert figures["model"] == figures["repeat-last"]  # the "model" here is the repeat-last baseline itself
    assert figures["repeat-last"]["stroke_pairs"] > 0 and figures["repeat-last"]["chamfer_px_mean"] > 0
    # four strokes a drawing: a stroke follows three times, then the drawing ends (no edit)
    assert figures["repeat-last"]["kind_top1"] == 0.75 and 0 <= figures["repeat-last"]["location_accuracy"] <= 1
    assert figures["repeat-last"]["exact_match_top1"] == 0.0 and report["min_probability"] == 0.0  # it never stays silent
    ngram = figures["ngram"]  # fitted on each round's training drawings, whose door and window strokes recur exactly
    assert ngram["examples_pooled"] == figures["repeat-last"]["examples_pooled"] == sum(report["held_out_examples_rounds"]) > 0
    assert 0 < ngram["no_edit_predicted"] < ngram["examples_pooled"] and ngram["stroke_pairs"] > 0
    assert 0 < report["distinct_held_out_examples"] <= ngram["examples_pooled"]
    kind = report["rounds_figures"]["repeat-last"]["kind_top1"]  # each round's, and their median
    assert len(kind["per_round"]) == 2 and kind["min"] <= kind["median"] <= kind["max"]
