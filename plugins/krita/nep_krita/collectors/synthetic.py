"""``synthetic[:N][?option=value&...]``: N procedural drawing sessions, the krita domain's embedded default dataset.

Each session is one painter on one canvas: a state event (canvas size, brush set-up), then one to
three drawing passes, each from a family (``hatching`` and cross-hatching, repeated ``motifs``,
grids and ``perspective`` lines, ``symmetry``, ``lettering``, ``shading``), in a random region with
randomized parameters. Strokes have tapered pressure and eased timing; passes are separated by
brush, colour, size and opacity changes, sometimes a new layer, a return to an earlier layer or an
eraser touch-up, and pauses (now and then a long one, which the core makes a NO_EDIT target). A
few strokes are abandoned (a short start, then ``undo``) or undone and redrawn. Session ``i`` of
seed ``s`` depends only on ``(s, i)``; the first family of session ``i`` is ``FAMILIES[i % 6]``.

======== ========= =====================================================
option   default   meaning
======== ========= =====================================================
width    1024      canvas width in pixels (64 to 8192)
height   768       canvas height in pixels (64 to 8192)
families (all six) comma-separated families to draw from
passes   3         most drawing passes in one session (1 to 50)
======== ========= =====================================================
"""

from __future__ import annotations

import random
import time
from typing import Callable, Iterable

from nep_core.collector import Collector, CollectReport
from nep_core.errors import NepError
from nep_core.session import Session
from nep_krita.action_space import MAX_CANVAS
from nep_krita.collectors.drawings import hatching, lettering, motifs, perspective, shading, symmetry
from nep_krita.collectors.drawings.painter import BASIC, DARK_COLORS, LINE_BRUSHES, Painter
from nep_krita.collectors.drawings.region import Box, random_box
from nep_core.source_options import parse_argument

DEFAULT_SESSIONS = 400
FAMILIES: dict[str, Callable[[Painter, Box], None]] = {
    "hatching": hatching.draw,
    "motifs": motifs.draw,
    "perspective": perspective.draw,
    "symmetry": symmetry.draw,
    "lettering": lettering.draw,
    "shading": shading.draw,
}
DEFAULTS = {"width": 1024, "height": 768, "families": tuple(FAMILIES), "passes": 3}
MIN_CANVAS = 64
"""The smallest canvas side (pixels) a drawing family fits in; the largest is the action space's ``MAX_CANVAS``."""
MAX_PASSES = 50
"""The most drawing passes in one session: each adds hundreds of events."""


def make_session(seed: int, index: int, width: int = 1024, height: int = 768, families: tuple[str, ...] = tuple(FAMILIES),
                 passes: int = 3) -> tuple[Painter, list[str]]:
    """The painter after session ``index`` of ``seed`` (its events and counts) and the families it drew."""
    rng = random.Random(f"krita-synthetic:{seed}:{index}")
    painter = Painter(rng, width, height)
    painter.brush = rng.choice(LINE_BRUSHES + (BASIC,))
    painter.color = rng.choice(DARK_COLORS)
    painter.size = round(rng.uniform(*painter.brush.size), 1)
    painter.start()
    drawn = [families[index % len(families)]]
    drawn += [rng.choice(families) for _ in range(rng.randint(0, max(0, passes - 1)))]
    for number, family in enumerate(drawn):
        if number:
            painter.think()
            if rng.random() < 0.15:
                painter.new_layer()
            elif rng.random() < 0.1 and len(painter.layers) > 1:
                painter.switch_layer(rng.randrange(len(painter.layers)))
        box = random_box(rng, width, height)
        FAMILIES[family](painter, box)
        if rng.random() < 0.1:
            erase_touch_up(painter, box)
    return painter, drawn


def erase_touch_up(painter: Painter, box: Box) -> None:
    """Eraser mode on, one to three short swipes inside ``box``, eraser off."""
    rng = painter.rng
    painter.wait(0.5, 2.0)
    painter.eraser(True)
    for _ in range(rng.randint(1, 3)):
        x, y = rng.uniform(box.x0, box.x1), rng.uniform(box.y0, box.y1)
        painter.stroke([(x, y), (x + rng.uniform(-40, 40), y + rng.uniform(-40, 40))], gap=(0.3, 1.0))
    painter.eraser(False)


class SyntheticDrawingCollector(Collector):
    name = "synthetic"
    description = f"procedural drawing sessions ({', '.join(FAMILIES)}); ARGUMENT is the number of sessions"
    version = "3"

    def __init__(self, action_space=None):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        head, options = parse_argument("synthetic", argument, DEFAULTS)
        if head and (not head.isdigit() or int(head) < 1):
            raise NepError(f"synthetic: ARGUMENT is a number of sessions, not '{head}'")
        unknown = [family for family in options["families"] if family not in FAMILIES]
        if unknown or not options["families"]:
            raise NepError(f"synthetic: unknown families {', '.join(unknown) or '(none given)'} (families: {', '.join(FAMILIES)})")
        for name in ("width", "height"):
            if not MIN_CANVAS <= options[name] <= MAX_CANVAS:
                raise NepError(f"synthetic: option '{name}' must be from {MIN_CANVAS} to {MAX_CANVAS} pixels (got {options[name]})")
        if not 1 <= options["passes"] <= MAX_PASSES:
            raise NepError(f"synthetic: option 'passes' must be from 1 to {MAX_PASSES} (got {options['passes']})")
        count = int(head) if head else DEFAULT_SESSIONS
        started = time.perf_counter()
        for index in range(count):
            painter, drawn = make_session(seed, index, options["width"], options["height"], options["families"], options["passes"])
            for name, amount in painter.counts.items():
                report.count(name, amount)
            for family in drawn:
                report.count(f"family {family}")
            report.count("sessions")
            yield Session(
                id=f"krita-synth-{seed}-{index:05d}",
                domain="krita",
                events=painter.events,
                meta={"source": "synthetic", "source_id": f"synthetic:{drawn[0]}:{seed}:{index}", "family": drawn[0],
                      "families": drawn, "seed": seed, "app": "nep synthetic painter"},
            )
        report.count("generation ms", round(1000 * (time.perf_counter() - started)))
