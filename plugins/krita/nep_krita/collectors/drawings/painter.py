"""A simulated painter: strokes, brush, colour, size and layer changes, undos and pauses, as session events."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Sequence

from nep_core.actions import Action
from nep_core.session import Event
from nep_krita.collectors.drawings.geometry import Point, clip_to_box, length, resample
from nep_krita.collectors.drawings.hand import Touch, stroke_points
from nep_krita.action_space import MAX_LAYERS
from nep_krita.strokes import Stroke


@dataclass(frozen=True)
class Brush:
    """A Krita brush preset and the way it is used."""

    preset: str
    size: tuple[float, float]
    opacity: float = 1.0
    touch: Touch = Touch()


PENCIL = Brush("c) Pencil-2", (3.0, 8.0), 1.0, Touch(pressure=0.6, taper_in=0.2, taper_out=0.3, speed=0.9, tremor=0.7))
INK = Brush("d) Ink-2 Fineliner", (2.0, 6.0), 1.0, Touch(pressure=0.9, taper_in=0.05, taper_out=0.08, speed=0.7, tremor=0.4))
BASIC = Brush("b) Basic-5 Size", (6.0, 20.0), 1.0, Touch(pressure=0.75, taper_in=0.15, taper_out=0.25, speed=0.8, tremor=0.6))
SOFT = Brush("b) Basic-2 Opacity", (14.0, 40.0), 0.5, Touch(pressure=0.5, taper_in=0.3, taper_out=0.3, speed=1.2, tremor=1.0))
AIRBRUSH = Brush("b) Airbrush Soft", (30.0, 80.0), 0.4, Touch(pressure=0.4, taper_in=0.25, taper_out=0.25, speed=1.0, tremor=1.5))
MIN_SLIP = 10.0
"""Pixels an abandoned start covers at least (shorter paths are never abandoned)."""

LINE_BRUSHES = (PENCIL, INK, BASIC)
SHADING_BRUSHES = (SOFT, AIRBRUSH, PENCIL)

DARK_COLORS = ("#000000", "#1a1a1a", "#2b2b40", "#3a2a1f", "#1f3a5f", "#402020")
SHADE_COLORS = ("#555555", "#6b6b80", "#7a5c48", "#4f6d8a", "#8a6a6a", "#5a7a5a")
ACCENT_COLORS = ("#c0392b", "#2e86de", "#27ae60", "#8e44ad", "#d35400", "#16a085")


@dataclass
class Painter:
    """Builds one session's events; time ``t`` is in seconds, a stroke's event is logged at pen-up."""

    rng: random.Random
    width: int
    height: int
    events: list[Event] = field(default_factory=list)
    t: float = 0.0
    brush: Brush = BASIC
    color: str = "#000000"
    size: float = 10.0
    opacity: float = 1.0
    layer: int = 0
    """Index of the current layer in the stack, from the bottom."""
    layers: list[str] = field(default_factory=lambda: ["Paint Layer 1"])
    undo_rate: float = 0.04
    abandon_rate: float = 0.03
    counts: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        """The first state event: canvas size and brush set-up."""
        self.events.append(Event(t=0.0, state=self.state()))

    def state(self) -> dict[str, Any]:
        return {
            "canvas": {"width": self.width, "height": self.height}, "layer": self.layers[self.layer],
            "brush": self.brush.preset, "color": self.color, "size": self.size, "opacity": self.opacity,
        }

    # --- time
    def wait(self, low: float, high: float) -> None:
        self.t = round(self.t + self.rng.uniform(low, high), 3)

    def think(self) -> None:
        """A short pause between passes; now and then one long enough to make a NO_EDIT trigger."""
        if self.rng.random() < 0.12:
            self.wait(30.0, 90.0)
            self._count("long pauses")
        else:
            self.wait(1.5, 6.0)

    # --- discrete actions (payloads as nep_krita/action_space.py defines them)
    def _act(self, kind: str, args: dict[str, Any] | None = None) -> None:
        self.wait(0.4, 1.6)
        self.events.append(Event(t=self.t, action=Action(kind=kind, args=args or {})))
        self._count(f"{kind} actions")

    def use(self, brush: Brush, color: str | None = None, size: float | None = None) -> None:
        """Switch brush preset, colour, size and opacity, logging only what changes."""
        if brush.preset != self.brush.preset:
            self._act("brush", {"brush": brush.preset})
        self.brush = brush
        if color is not None and color != self.color:
            self.color = color
            self._act("color", {"color": color})
        size = round(size if size is not None else self.rng.uniform(*brush.size), 1)
        if abs(size - self.size) >= 0.5:
            self.size = size
            self._act("size", {"size": size})
        if brush.opacity != self.opacity:
            self.opacity = brush.opacity
            self._act("opacity", {"opacity": brush.opacity})

    def new_layer(self) -> None:
        """A new paint layer on top of the stack, which becomes the current one."""
        if len(self.layers) >= MAX_LAYERS:
            return
        name = f"Paint Layer {len(self.layers) + 1}"
        self.layers.append(name)
        self.layer = len(self.layers) - 1
        self._act("layer.new", {"name": name})

    def switch_layer(self, index: int) -> None:
        if index != self.layer and 0 <= index < len(self.layers):
            self.layer = index
            self._act("layer.switch", {"index": index, "name": self.layers[index]})

    def eraser(self, on: bool) -> None:
        """Krita's eraser mode (the E key): strokes painted while it is on erase."""
        self._act("eraser", {"on": on})

    def undo(self) -> None:
        self._act("undo")

    # --- strokes
    def stroke(self, path: Sequence[Point], touch: Touch | None = None, gap: tuple[float, float] = (0.15, 0.9)) -> None:
        """Paint ``path``; sometimes a slip is painted and undone first, or the stroke itself is undone and redrawn."""
        if len(path) < 2:
            return
        if self.rng.random() < self.abandon_rate and length(path) >= 4 * MIN_SLIP:
            self._slip(path, touch)
        self._paint(path, touch, gap)
        if self.rng.random() < self.undo_rate:
            self.undo()
            self._count("strokes undone and redrawn")
            self._paint(path, touch, (0.3, 1.2))

    def _slip(self, path: Sequence[Point], touch: Touch | None) -> None:
        """An abandoned start: a few pixels of the stroke, then undo."""
        dense = resample(path, 2.0)
        cut = max(int(MIN_SLIP / 2.0) + 1, int(len(dense) * self.rng.uniform(0.1, 0.3)))
        self._paint(dense[:cut], touch, (0.15, 0.6))
        self.undo()
        self._count("abandoned strokes")

    def _paint(self, path: Sequence[Point], touch: Touch | None, gap: tuple[float, float]) -> None:
        points = stroke_points(path, touch or self.brush.touch, self.rng)
        on_canvas = clip_to_box([point[:2] for point in points], self.width, self.height, 0.0)
        points = [(x, y, pressure, t) for (x, y), (_, _, pressure, t) in zip(on_canvas, points)]
        if len(points) < 2:
            return
        self.wait(*gap)
        stroke = Stroke(points=tuple(points), brush=self.brush.preset, color=self.color, size=self.size, opacity=self.opacity)
        self.t = round(self.t + points[-1][3] / 1000.0, 3)
        self.events.append(Event(t=self.t, action=stroke.to_action()))
        self._count("strokes")

    def _count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
