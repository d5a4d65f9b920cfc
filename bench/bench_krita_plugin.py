"""What NEP Suggest costs Krita's main thread (where Krita paints) while a painter hatches; prints JSON.

    python bench/bench_krita_plugin.py --model runs/krita

Builds the plugin zip (`nep krita plugin`), installs it into a fresh Krita home the way Krita's own
*Import Python Plugin from File* does, serves ``--model`` on loopback as `nep serve` does, and runs
full Krita in a virtual X display (`xvfb-run`, Debian's `xvfb`) with the probe plugin of
tests/krita/install_probe, which paints forty short strokes, one every 200 ms. Figures, from inside
Krita: the plugin's milliseconds per tick (following the active view; the runtime's tick, which
collects the server's answers and asks again) and per pointer event, and its lookups of the canvas
widgets (each tick) and of the active tool (each stroke's press) against a search of the whole
window, as it looked them up before, timed in the same Krita; and what Accept's painting of one
more hatch line costs (median of 7, until Krita has painted it) through the view (Krita's fill on
5.1 and 5.2, ``Node.paintPath`` on 5.3 and 6: one undo step) against merging a layer down (two).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, argument_parser, check_models, machine, run_main  # noqa: E402


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--model", default="ngram", help="a krita checkpoint folder, or a baseline (ngram, repeat-last), which the server fits on the train split of the data the krita domain ships")
    args = parser.parse_args()
    check_models(args.model, domain="krita")

    sys.path.insert(0, str(REPO / "tests" / "krita"))
    from krita_window import KRITA, XVFB_RUN, ProbeFailed, prepare_home, start_krita
    from typer.testing import CliRunner

    from nep_core.errors import NepError, first_line
    from nep_core.inference import load_predictor
    from nep_core.plugins import get_domain
    from nep_core.server import create_app
    from nep_core.server.runner import BackgroundServer
    from nep_krita.cli import app

    if KRITA is None or XVFB_RUN is None:
        raise NepError("bench_krita_plugin needs krita and xvfb-run (Debian: apt-get install krita xvfb)")
    domain = get_domain("krita")
    predictor = load_predictor(args.model, domain)
    with tempfile.TemporaryDirectory(prefix="nep-bench-krita-") as scratch:
        folder = Path(scratch)
        built = CliRunner().invoke(app, ["plugin", "--out", str(folder / "dist")])
        if built.exit_code != 0:
            raise NepError(f"nep krita plugin failed: {built.output.strip()}")
        with BackgroundServer(create_app(domain, predictor, data_dir=folder / "feedback")) as server:
            home = folder / "home"
            prepare_home(home, server.url)
            try:
                start_krita(home, "import", NEP_PROBE_ZIP=str(next((folder / "dist").glob("nep_suggest-krita-*.zip"))))
                seen = start_krita(home, "hatching")
            except ProbeFailed as error:  # Krita did not start, the probe failed inside it, or Krita did not quit
                raise NepError(f"Krita ({KRITA}): {first_line(error)}") from None
    lookups = seen["lookups"]
    print(json.dumps({
        "model": args.model,
        "krita": seen["krita_version"],
        "strokes": 40,
        "plugin_error": seen["plugin_error"],
        "server_status": seen["status"],
        "main_thread": seen["main_thread"],
        "lookups": lookups,
        "speedup": {name: round(lookup["before"]["median_ms"] / max(lookup["now"]["median_ms"], 1e-6), 1) for name, lookup in lookups.items()},
        "accept": {**seen["accept"], "view_to_merge": round(seen["accept"]["view"]["p50_ms"] / seen["accept"]["merge"]["p50_ms"], 2)},
        "machine": machine(),
    }, indent=1))


if __name__ == "__main__":
    run_main(main)
