"""A video model against the baselines on project histories made from real timelines; prints JSON.

    python bench/bench_video_histories.py --model runs/video --timelines ~/edit/timelines

Each readable timeline in the folder (EDL, FCP7 XML, OTIO, Kdenlive/MLT) is the first version of
``--histories`` projects. An editor's passes (the ``synthetic`` collector's, started ``from`` that
timeline: tightened heads and tails, pauses cut out, dissolves, a slipped or moved shot...) make the
later versions, each saved after one edit in the timeline's own format where NEP can write it (EDL,
FCP7 XML, OTIO; Kdenlive and MLT are saved as OTIO, and so is a multi-track cut an EDL cannot hold).
Each project folder is then read back as ``nep eval --data history:DIR --baselines`` reads it: diffed
into actions, split by time (the newest changes are the test split), baselines fitted on the older
changes. Outcomes are pooled over all projects. Figures per predictor: exact and kind top-1, location
accuracy, NO_EDIT F1, verifier validity of edit predictions, latency; and the model's exact top-1
minus the best baseline's. Progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    argument_parser, check_models, existing_path, machine, median, minus_best_baseline, non_negative_int, positive_int,
    progress, run_main,
)


def write_version(timeline, folder: Path, number: int, suffix: str, rate: float) -> str:
    """Save one version; the suffix actually used: ``.otio`` when the format cannot hold the cut, or
    when its adapter writes a file it cannot read back (the CMX 3600 adapter does, for some dissolves)."""
    from nep_video.formats import read_timeline, write_timeline

    if suffix in (".edl", ".xml", ".otio"):
        path = folder / f"v{number:04d}{suffix}"
        try:
            write_timeline(timeline, path)
            read_timeline(path, rate)
            return suffix
        except Exception:  # noqa: BLE001 - keep this version as OTIO instead
            path.unlink(missing_ok=True)
    write_timeline(timeline, folder / f"v{number:04d}.otio")
    return ".otio"


def make_histories(timelines: Path, root: Path, per_timeline: int, seed: int, passes: int = 9) -> tuple[list[dict], int]:
    """Project folders of saved versions under ``root``, one record per project; and the number of
    projects left out for having fewer edits than a history needs to be split in time."""
    from nep_core.collector import CollectReport
    from nep_video.collectors.history import TIME_SPLIT_MIN_CHANGES
    from nep_video.collectors.synthetic import make_session, starting_cuts
    from nep_video.edits import apply_edit
    from nep_video.timeline import timeline_rate

    report = CollectReport()
    cuts = starting_cuts(str(timelines), 0.0, report)
    projects, too_short = [], 0
    for cut_index, (name, cut) in enumerate(cuts):
        suffix, rate = Path(name).suffix.lower(), timeline_rate(cut)
        for copy in range(per_timeline):
            editor, made = make_session(seed, cut_index * per_timeline + copy, passes=passes, start=cut)
            edits = [event.action for event in editor.events if event.action is not None and event.action.edit]
            if len(edits) < TIME_SPLIT_MIN_CHANGES:
                too_short += 1
                continue
            folder = root / f"{cut_index:03d}-{copy}"
            folder.mkdir(parents=True)
            timeline = cut.deepcopy()
            suffixes = {write_version(timeline, folder, 0, suffix, rate)}
            for number, action in enumerate(edits, start=1):
                timeline = apply_edit(timeline, action)
                suffixes.add(write_version(timeline, folder, number, suffix, rate))
            projects.append({"folder": folder, "timeline": name, "rate": rate, "edits": len(edits),
                             "passes": made, "saved_as": sorted(suffixes)})
    return projects, too_short


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--model", required=True, help="a video checkpoint folder from nep train")
    parser.add_argument("--timelines", required=True, type=existing_path, help="a folder of real timeline files")
    parser.add_argument("--histories", type=positive_int, default=2, help="projects made from each timeline")
    parser.add_argument("--passes", type=positive_int, default=9, help="most editing passes per project (the synthetic collector's option)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="the editor's seed (the synthetic collector's)")
    args = parser.parse_args()
    check_models(args.model, domain="video")

    from nep_core.errors import NepError
    from nep_core.evaluation.evaluate import load_eval_data, run_predictor
    from nep_core.evaluation.metrics import compute_metrics
    from nep_core.inference import load_predictor, make_baseline
    from nep_core.plugins import get_domain

    domain = get_domain("video")
    model = load_predictor(args.model, domain)
    outcomes: dict[str, list] = {"model": [], "repeat-last": [], "most-frequent": [], "ngram": []}
    evaluated, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="nep-video-histories-") as scratch:
        progress(f"making histories from {args.timelines}")
        projects, too_short = make_histories(Path(args.timelines).expanduser(), Path(scratch), args.histories, args.seed, args.passes)
        for number, project in enumerate(projects, start=1):
            progress(f"project {number} of {len(projects)}: {project['timeline']}")
            try:
                data = load_eval_data(domain, f"history:{project['folder']}?order=name&rate={project['rate']}")
                baselines = {name: make_baseline(name, domain).fit(data.train) for name in outcomes if name != "model"}
            except NepError as error:  # e.g. a history whose older part holds no example to fit the baselines on
                skipped.append(f"{project['timeline']}: {error}")
                continue
            evaluated.append(project)
            for name, predictor in {"model": model, **baselines}.items():
                outcomes[name].extend(run_predictor(predictor, domain, data.examples))
    figures = {}
    for name, pooled in outcomes.items():
        metrics = compute_metrics(pooled, domain, top_k=3)
        figures[name] = {key: (round(value, 4) if isinstance(value, float) else value) for key, value in metrics.items()
                         if key in ("examples", "exact_match_top1", "exact_match_topk", "kind_top1", "location_accuracy",
                                    "no_edit_f1", "validity_rate", "latency_p50_ms")}
    print(json.dumps({
        "bench": "video model against baselines on histories made from real timelines",
        "model": args.model,
        "timelines": args.timelines,
        "projects": len(evaluated),
        "timelines_used": len({project["timeline"] for project in evaluated}),
        "saved_as": sorted({suffix for project in evaluated for suffix in project["saved_as"]}),
        "edits_per_project_median": median([project["edits"] for project in evaluated]) if evaluated else None,
        "projects_with_too_few_edits": too_short,
        "skipped": skipped,
        "figures": figures,
        "model_exact_top1_minus_best_baseline": minus_best_baseline(figures),
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    run_main(main)
