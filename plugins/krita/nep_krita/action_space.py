"""Krita actions as tokens: brush strokes in the sketch-rnn stroke-3 tradition, plus discrete actions.

A **stroke** is written ``@stroke sx=12 sy=7 ox=3 oy=5 p=7 dx=4 dy=-2 dx=6 dy=0 p=5 dx=3 dy=1 ...``:

- the start point as a cell of a 32-pixel canvas grid (``sx``, ``sy``) and a 4-pixel offset inside
  it (``ox``, ``oy``, 0..7): the start point is snapped to the nearest multiple of 4 pixels;
- the pressure level ``p=0..7`` (pressure ``k/7``), written before the first point and again only
  before a point where the level changes;
- one ``dx dy`` pair per further point: integer pixel moves on a nonlinear grid (``MOVES``, exact
  up to 8 pixels, steps of 2 up to 32, of 4 up to 64). Points are first simplified with
  Ramer–Douglas–Peucker (``RDP_EPSILON`` pixels); each move is quantized against the *reconstructed*
  position (error feedback, so errors never accumulate), and a segment is split into equal parts
  until every point lands within ``MOVE_TOLERANCE`` pixels of its target on each axis. A stroke is
  at most ``MAX_STROKE_TOKENS`` tokens; a longer one is simplified harder until it fits.

In a context (``for_context``), a stroke that is a moved copy of one of the newest strokes is
written ``@stroke copy=1 jx=12 jy=30``: the newest stroke (``copy=2`` the one before...) moved so
that it starts ``(jx, jy)`` pixels from where it started (``JUMPS``), when that copy lies within
``COPY_TOLERANCE`` (Chamfer) of the stroke. Four tokens instead of ~25: easier to learn, and a
suggestion's probability (a product over its tokens) that can compete with one-token actions.
A mirrored copy, ``@stroke flip=1 jx= jy=``, is the stroke reflected left to right about the
vertical line through its start, then moved the same way: the other half of a symmetric shape (the
second wing, ear or side of a vase).

The brush, colour, size and opacity of a stroke are not written: a stroke is painted with the
current brush, which the history sets (``brush``, ``color``, ``size``, ``opacity`` actions and
``state`` events); ``for_context(context)`` decodes strokes with it and bounds them to the canvas.
Decoded points get ``t`` = 8 ms per point (a copy keeps its source's).

Discrete actions (args; tokens):

- ``layer.new`` (``{"name": str}`` optional, not written): ``@layer.new``
- ``layer.switch`` (``{"index": 0..15}`` position in the layer stack from the bottom, ``name``
  optional, not written): ``@layer.switch layer=2``
- ``brush`` (``{"brush": preset name}``): ``@brush brush:b)%20Basic-5%20Size`` (the name
  percent-encoded; the grammar offers Krita's default presets and the names the tokenizer learnt)
- ``color`` (``{"color": "#rrggbb"}``): ``@color r=3 g=5 b=7``, 8 levels per channel (``k*255/7``)
- ``size`` (``{"size": px}``): ``@size size=12``, on ``SIZES``
- ``opacity`` (``{"opacity": 0..1}``): ``@opacity opacity=0.8``, steps of 0.1
- ``eraser`` (``{"on": bool}``): ``@eraser on=1``; strokes painted while it is on erase
- ``undo``: ``@undo``; it takes back the newest stroke or new layer not yet undone (``UndoStep``), and
  is offered only while there is one

Every kind is an edit (a suggestion the painter can accept).
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Collection, Hashable, Iterable, Mapping, NamedTuple, Sequence
from urllib.parse import quote, unquote

from nep_core.action_space import EOS, NO_EDIT_TOKEN, ActionSpace
from nep_core.actions import NO_EDIT, Action, is_finite_number
from nep_core.errors import InvalidAction
from nep_core.session import per_context
from nep_krita.strokes import MAX_BRUSH_SIZE, STROKE_KIND, Stroke, is_brush_size, simplify

CELL = 32
"""Pixels per start-grid cell: ``location(stroke)`` is the start cell."""
OFFSET_STEP = 4
"""Pixels per start offset step inside a cell (start-point error at most 2 pixels per axis)."""
OFFSETS = CELL // OFFSET_STEP
MAX_CANVAS = 8192
"""The largest canvas side the grid covers (pixels); a context's canvas bounds it further. A stroke with a point
beyond it (on a larger canvas) cannot be written: it is refused, never pulled onto the grid's last line."""
MAX_CELLS = MAX_CANVAS // CELL
MOVES = (*range(0, 9), *range(10, 33, 2), *range(36, 65, 4))
"""Magnitudes of one move on each axis (pixels); moves are these with either sign."""
MAX_MOVE = MOVES[-1]
MOVE_TOLERANCE = 1.0
"""Most pixels a quantized point may be off its (simplified) target, per axis."""
RDP_EPSILON = 1.0
"""Ramer–Douglas–Peucker tolerance (pixels) applied before quantizing."""
PRESSURE_LEVELS = 8
MIN_LENGTH = 1.0
"""Pixels: a shorter stroke is degenerate and cannot be written."""
MAX_STROKE_TOKENS = 63
"""Most tokens of one stroke (the decoder writes at most 64 per action). A stroke that would take more
is simplified harder (RDP epsilon and move tolerance doubled, then one pressure level) until it fits."""
FIT_STEPS = ((1.0, 1.0), (2.0, 1.5), (4.0, 2.0), (8.0, 3.0), (16.0, 4.0), (32.0, 6.0), (64.0, 8.0))
"""(RDP epsilon, move tolerance) pairs tried in turn until a stroke fits MAX_STROKE_TOKENS."""
POINT_MS = 8.0
SIZES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200, 300, 500, 1000)
"""Brush diameters (pixels) a ``size`` action snaps to (nearest in ratio)."""
OPACITIES = tuple(round(step / 10, 1) for step in range(11))
COLOR_LEVELS = 8
MAX_LAYERS = 16

DEFAULT_BRUSHES = (
    "a) Eraser Circle", "a) Eraser Small", "a) Eraser Soft", "b) Airbrush Soft", "b) Basic-1", "b) Basic-2 Opacity",
    "b) Basic-3 Flow", "b) Basic-4 Flow Opacity", "b) Basic-5 Size", "b) Basic-5 Size Opacity", "b) Basic-6 Details",
    "c) Pencil-1 Hard", "c) Pencil-2", "c) Pencil-3 Large 4B", "c) Pencil-4 Soft", "d) Ink-1 Precision",
    "d) Ink-2 Fineliner", "d) Ink-3 Gpen", "d) Ink-4 Pen Rough", "d) Ink-7 Brush Rough", "e) Marker Chisel Smooth",
    "f) Bristles-1 Details", "g) Dry Bristles", "h) Chalk Grainy", "h) Charcoal Pencil Medium", "k) Blender Basic",
    "k) Blender Blur", "u) Pixel Art", "t) Shapes Fill",
)
"""Default brush presets of Krita, each one a preset of 5.1.5, 5.2.9, 5.3.4 and 6.0.4 alike (they ship the same
*Krita_4_Default_Resources* bundle): the brush names every grammar offers. Until
action space version 4 six names here were no preset of any of them (``i) Textured Charcoal``, ``j) Blender
Basic``, ``m) Pixel Art``, ``r) Fill Circle``, ``d) Ink-5 Fineliner Rough``, ``e) Marker Chisel``)."""

COPY_REFS = 4
"""A stroke may be written as a moved copy of one of the context's newest strokes (``copy=1`` the newest)."""
JUMPS = (*range(0, 9), *range(10, 33, 2), *range(36, 65, 4), *range(72, 129, 8), *range(144, 257, 16), *range(288, 513, 32))
"""Magnitudes (pixels) of a copy's jump on each axis: from the copied stroke's start to the new start."""
COPY_TOLERANCE = 2.5
"""Most Chamfer distance (pixels) between a stroke and the moved copy that may stand for it."""

STROKE_TOKEN = "@stroke"
DISCRETE_KINDS = ("layer.new", "layer.switch", "brush", "color", "size", "opacity", "eraser", "undo")
KINDS = (STROKE_KIND, *DISCRETE_KINDS)
KIND_TOKENS = {f"@{kind}": kind for kind in KINDS}
BRUSH_PREFIX = "brush:"

SX_TOKENS = [f"sx={index}" for index in range(MAX_CELLS + 1)]
SY_TOKENS = [f"sy={index}" for index in range(MAX_CELLS + 1)]
OX_TOKENS = [f"ox={index}" for index in range(OFFSETS)]
OY_TOKENS = [f"oy={index}" for index in range(OFFSETS)]
PRESSURE_TOKENS = [f"p={level}" for level in range(PRESSURE_LEVELS)]
SIGNED_MOVES = sorted({sign * magnitude for magnitude in MOVES for sign in (1, -1)})
DX_TOKENS = {move: f"dx={move}" for move in SIGNED_MOVES}
DY_TOKENS = {move: f"dy={move}" for move in SIGNED_MOVES}
_INDEX = {
    **{token: ("sx", value) for value, token in enumerate(SX_TOKENS)},
    **{token: ("sy", value) for value, token in enumerate(SY_TOKENS)},
    **{token: ("ox", value) for value, token in enumerate(OX_TOKENS)},
    **{token: ("oy", value) for value, token in enumerate(OY_TOKENS)},
    **{token: ("p", value) for value, token in enumerate(PRESSURE_TOKENS)},
    **{token: ("dx", value) for value, token in DX_TOKENS.items()},
    **{token: ("dy", value) for value, token in DY_TOKENS.items()},
}
SIGNED_JUMPS = sorted({sign * magnitude for magnitude in JUMPS for sign in (1, -1)})
COPY_TOKENS = [f"copy={index}" for index in range(1, COPY_REFS + 1)]
FLIP_TOKENS = [f"flip={index}" for index in range(1, COPY_REFS + 1)]
JX_TOKENS = {jump: f"jx={jump}" for jump in SIGNED_JUMPS}
JY_TOKENS = {jump: f"jy={jump}" for jump in SIGNED_JUMPS}
_COPY_INDEX = {**{token: (index, False) for index, token in enumerate(COPY_TOKENS)},
               **{token: (index, True) for index, token in enumerate(FLIP_TOKENS)}}
"""A copy's source: which recent stroke (0 the newest), and whether it is mirrored."""
_JUMP_INDEX = {**{token: ("jx", jump) for jump, token in JX_TOKENS.items()}, **{token: ("jy", jump) for jump, token in JY_TOKENS.items()}}
LAYER_TOKENS = [f"layer={index}" for index in range(MAX_LAYERS)]
CHANNEL_TOKENS = {channel: [f"{channel}={level}" for level in range(COLOR_LEVELS)] for channel in "rgb"}
SIZE_TOKENS = [f"size={size}" for size in SIZES]
OPACITY_TOKENS = [f"opacity={value:g}" for value in OPACITIES]
ERASER_TOKENS = ["on=0", "on=1"]


# -- quantization --------------------------------------------------------------------------------


def nearest_on_grid(grid: Sequence[float], value: float) -> float:
    """The value of the ascending ``grid`` nearest to ``value``; the smaller one on a tie."""
    index = bisect.bisect_left(grid, value)
    if index == 0:
        return grid[0]
    if index == len(grid):
        return grid[-1]
    below, above = grid[index - 1], grid[index]
    return below if value - below <= above - value else above


def quantize_move(value: float) -> int:
    """The grid move nearest to ``value`` (clamped to ±MAX_MOVE)."""
    best = nearest_on_grid(MOVES, min(abs(value), MAX_MOVE))
    return int(math.copysign(best, value)) if best else 0


def pressure_level(pressure: float) -> int:
    return min(PRESSURE_LEVELS - 1, max(0, round(pressure * (PRESSURE_LEVELS - 1))))


def level_pressure(level: int) -> float:
    return round(level / (PRESSURE_LEVELS - 1), 4)


def snap_start(value: float, limit: int) -> int:
    """A start coordinate snapped to the 4-pixel grid within ``[0, limit]``."""
    snapped = int(round(value / OFFSET_STEP)) * OFFSET_STEP
    return max(0, min(snapped, limit // OFFSET_STEP * OFFSET_STEP))


def _bounded_move(value: float, position: int, limit: int) -> int:
    """The grid move nearest to ``value`` that keeps ``position`` within ``[0, limit]``."""
    move = quantize_move(value)
    while not 0 <= position + move <= limit:
        smaller = [magnitude for magnitude in MOVES if magnitude < abs(move)]
        move = int(math.copysign(smaller[-1], move)) if smaller and smaller[-1] else 0
    return move


def quantize_points(
    points: Sequence[Sequence[float]], width: int = MAX_CANVAS, height: int = MAX_CANVAS,
    epsilon: float = RDP_EPSILON, tolerance: float = MOVE_TOLERANCE,
) -> tuple[tuple[int, int], list[tuple[int, int, int]]]:
    """``(start, moves)``: the start on the 4-pixel grid and ``(dx, dy, pressure_level)`` moves that
    follow the RDP-simplified ``points`` within MOVE_TOLERANCE pixels per axis (see the module
    docstring); points off the ``width`` x ``height`` canvas are pulled onto its edge. ``KritaActionSpace``
    refuses a stroke beyond MAX_CANVAS before it gets here (``_beyond_reach``): only points off the canvas
    itself are pulled in."""
    exact = _as_grid_moves(points, width, height) if epsilon <= RDP_EPSILON else None
    if exact is not None:
        return exact
    simplified = simplify([tuple(point) for point in points], epsilon)
    x0, y0 = simplified[0][0], simplified[0][1]
    cx, cy = snap_start(x0, width), snap_start(y0, height)
    start = (cx, cy)
    moves: list[tuple[int, int, int]] = []
    for point in simplified[1:]:
        level = pressure_level(point[2] if len(point) > 2 else 1.0)
        tx, ty = min(max(point[0], 0.0), width), min(max(point[1], 0.0), height)
        span = max(abs(tx - cx), abs(ty - cy))
        parts = max(1, math.ceil(span / MAX_MOVE))
        while True:
            steps, x, y, worst = [], cx, cy, 0.0
            for index in range(1, parts + 1):
                ix, iy = cx + (tx - cx) * index / parts, cy + (ty - cy) * index / parts
                dx, dy = _bounded_move(ix - x, x, width), _bounded_move(iy - y, y, height)
                x, y = x + dx, y + dy
                worst = max(worst, abs(ix - x), abs(iy - y))
                if dx or dy:
                    steps.append((dx, dy, level))
            if worst <= tolerance or parts >= 4 * MAX_MOVE:
                break
            parts += 1
        moves.extend(steps)
        cx, cy = x, y
    return start, moves


def _as_grid_moves(points: Sequence[Sequence[float]], width: int, height: int):
    """``(start, moves)`` when ``points`` are already written exactly by this grid (a decoded stroke),
    so that quantizing is idempotent; otherwise None."""
    x0, y0 = points[0][0], points[0][1]
    if x0 % OFFSET_STEP or y0 % OFFSET_STEP or not (0 <= x0 <= width and 0 <= y0 <= height):
        return None
    moves, magnitudes = [], set(MOVES)
    for (xa, ya, *_), point in zip(points, points[1:]):
        dx, dy = point[0] - xa, point[1] - ya
        if dx != int(dx) or dy != int(dy) or abs(dx) not in magnitudes or abs(dy) not in magnitudes or not (dx or dy):
            return None
        if not (0 <= point[0] <= width and 0 <= point[1] <= height):
            return None
        level = pressure_level(point[2] if len(point) > 2 else 1.0)
        if len(point) > 2 and abs(level_pressure(level) - point[2]) > 1e-3:
            return None
        moves.append((int(dx), int(dy), level))
    return (int(x0), int(y0)), moves


def _extent(points: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """``(min x, max x, min y, max y)``."""
    xs, ys = [point[0] for point in points], [point[1] for point in points]
    return min(xs), max(xs), min(ys), max(ys)


def nearest_jump(value: float) -> int | None:
    """The jump on the grid nearest to ``value``, or None beyond the largest jump."""
    if abs(value) > JUMPS[-1]:
        return None
    best = nearest_on_grid(JUMPS, abs(value))
    return int(math.copysign(best, value)) if best else 0


def first_pressure(points: Sequence[Sequence[float]]) -> int:
    return pressure_level(points[0][2] if len(points[0]) > 2 else 1.0)


def quantize_color(color: str) -> tuple[int, int, int]:
    """``#rrggbb`` to three levels 0..7."""
    if not isinstance(color, str) or len(color) != 7 or color[0] != "#":
        raise InvalidAction(f"color must be #rrggbb, got {color!r}")
    try:
        channels = [int(color[index : index + 2], 16) for index in (1, 3, 5)]
    except ValueError:
        raise InvalidAction(f"color must be #rrggbb, got {color!r}") from None
    return tuple(round(channel * (COLOR_LEVELS - 1) / 255) for channel in channels)  # type: ignore[return-value]


def level_color(levels: Sequence[int]) -> str:
    return "#" + "".join(f"{round(level * 255 / (COLOR_LEVELS - 1)):02x}" for level in levels)


def snap_size(size: Any) -> int:
    if not is_brush_size(size):
        raise InvalidAction(f"size must be a number above 0 and at most {MAX_BRUSH_SIZE:g} pixels, got {size!r}")
    return _snapped_size(float(size))


@functools.lru_cache(maxsize=4096)
def _snapped_size(size: float) -> int:
    return min(SIZES, key=lambda candidate: abs(math.log(candidate / size)))


def snap_opacity(opacity: Any) -> float:
    if not isinstance(opacity, (int, float)) or isinstance(opacity, bool) or not 0.0 <= opacity <= 1.0:
        raise InvalidAction(f"opacity must be between 0 and 1, got {opacity!r}")
    return round(round(opacity * 10) / 10, 1)


def brush_token(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidAction(f"brush must be a non-empty preset name, got {name!r}")
    return BRUSH_PREFIX + quote(name, safe="")


def brush_name(token: str) -> str:
    return unquote(token[len(BRUSH_PREFIX) :])


# -- the painter's current settings ---------------------------------------------------------------

BRUSH_KEYS = ("brush", "color", "size", "opacity")
DEFAULT_SETTINGS = {"brush": "b) Basic-5 Size", "color": "#000000", "size": 10.0, "opacity": 1.0}


class UndoStep(NamedTuple):
    """A step of Krita's undo history: a ``stroke`` (painted on ``layer``, erasing when ``eraser``) or a
    ``layer.new`` (``layer`` and ``layers`` as they were before it, which undoing it brings back)."""

    action: Action
    layer: int
    eraser: bool
    layers: int


UNDO_STEP_KINDS = (STROKE_KIND, "layer.new")
"""What Krita's undo takes back of what is recorded; brush, colour, size, opacity, eraser and layer switches are not in its history."""


def current_settings(context: Any) -> dict[str, Any]:
    """The brush, colour, size, opacity, eraser, layer index and canvas in effect at the end of the history,
    and ``undo_steps``: the strokes and new layers an ``undo`` could still take back, oldest first.

    ``state`` events set any of their keys; ``brush``/``color``/``size``/``opacity``/``eraser``/
    ``layer.*`` actions and strokes (which carry the brush they were painted with) update them; an
    ``undo`` takes back the newest undo step (a new layer's undo brings back the layers before it).
    """
    return dict(_settings_of(context))


@per_context
def _settings_of(context: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {**DEFAULT_SETTINGS, "eraser": False, "layer": 0, "layers": 1, "canvas": None}
    steps: list[UndoStep] = []
    history = getattr(context, "history", None) or []
    for event in history:
        if event.state is not None:
            _apply_state(settings, event.state)
        action = event.action
        if action is None:
            continue
        args = action.args
        if action.edit and action.kind in UNDO_STEP_KINDS:
            steps.append(UndoStep(action, settings["layer"], settings["eraser"], settings["layers"]))
        if action.kind == STROKE_KIND:
            for key in BRUSH_KEYS:
                if key in args and _valid_setting(key, args[key]):
                    settings[key] = args[key]
        elif action.kind == "undo" and action.edit:
            undone = steps.pop() if steps else None
            if undone is not None and undone.action.kind == "layer.new":
                settings["layer"], settings["layers"] = undone.layer, undone.layers
        elif action.kind in BRUSH_KEYS and _valid_setting(action.kind, args.get(action.kind)):
            settings[action.kind] = args[action.kind]
        elif action.kind == "eraser" and isinstance(args.get("on"), bool):
            settings["eraser"] = args["on"]
        elif action.kind == "layer.new":
            settings["layers"] += 1
            settings["layer"] = settings["layers"] - 1
        elif action.kind == "layer.switch" and _is_index(args.get("index")):
            settings["layer"] = args["index"]
            settings["layers"] = max(settings["layers"], args["index"] + 1)
    state = getattr(context, "state", None)
    if state and not history:
        _apply_state(settings, state)
    settings["undo_steps"] = tuple(steps)
    return settings


def _apply_state(settings: dict[str, Any], state: Mapping[str, Any]) -> None:
    for key in BRUSH_KEYS:
        if key in state and _valid_setting(key, state[key]):
            settings[key] = state[key]
    canvas = canvas_in_state(state)
    if canvas is not None:
        settings["canvas"] = canvas
    if isinstance(state.get("eraser"), bool):
        settings["eraser"] = state["eraser"]


def canvas_in_state(state: Mapping[str, Any]) -> tuple[float, float] | None:
    """``(width, height)`` of a state event's ``canvas``, when it gives two positive finite numbers."""
    canvas = state.get("canvas")
    if isinstance(canvas, Mapping):
        width, height = canvas.get("width"), canvas.get("height")
        if _positive(width) and _positive(height):
            return float(width), float(height)
    return None


def _positive(value: Any) -> bool:
    return is_finite_number(value) and value > 0


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_LAYERS


_VALID_SETTINGS: dict[tuple[str, type, Any], bool] = {}


def _valid_setting(key: str, value: Any) -> bool:
    """Whether ``value`` is a usable ``key`` setting; remembered per value (a session repeats a few)."""
    try:
        memo_key = (key, type(value), value)
        known = _VALID_SETTINGS.get(memo_key)
    except TypeError:  # an unhashable value (a list where a colour belongs): checked every time
        return _check_setting(key, value)
    if known is None:
        if len(_VALID_SETTINGS) >= 8192:
            _VALID_SETTINGS.clear()
        known = _VALID_SETTINGS[memo_key] = _check_setting(key, value)
    return known


def _check_setting(key: str, value: Any) -> bool:
    try:
        if key == "brush":
            brush_token(value)
        elif key == "color":
            quantize_color(value)
        elif key == "size":
            snap_size(value)
        else:
            snap_opacity(value)
    except InvalidAction:
        return False
    return True


def unknown_kind(kind: Any) -> str:
    return f"unknown krita action kind '{kind}' (kinds: {STROKE_KIND}, {', '.join(DISCRETE_KINDS)})"


def canvas_of(context: Any) -> tuple[float, float] | None:
    """The canvas size ``(width, height)`` the context's state events give, or None."""
    return current_settings(context)["canvas"]


# -- the action space ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StrokeParse:
    """Where a stroke prefix stands: the next field, the start cell and offset read so far, the pen
    position, the pressure level, whether the pen has moved, and a pending ``dx``."""

    field: str
    sx: int = 0
    sy: int = 0
    ox: int = 0
    x: int = 0
    y: int = 0
    level: int = 0
    moved: bool = False
    dx: int = 0


CONTENT_CACHE_SIZE = 8192
"""Entries a space keeps per table of results remembered by content (``_by_content``)."""

PARSE_CACHE_SIZE = 65536
"""Stroke prefixes whose parse a space keeps (decoding asks about each prefix many times)."""


class KritaActionSpace(ActionSpace):
    """Strokes and discrete painting actions (see the module docstring). ``for_context`` binds the
    canvas size (strokes stay on it), the current brush (decoded strokes are painted with it), the
    layers (``layer.switch`` only to one that exists), the eraser (only switched to the other state)
    and whether there is anything to undo."""

    name = "krita"
    version = "4"
    # 3 (2026-12-07): undo takes back Krita's undo steps only (strokes, new layers; a new layer's undo brings back the layer before)
    # 4 (2026-12-08): a stroke beyond MAX_CANVAS is unwritable (it was pulled onto the 8192 line); DEFAULT_BRUSHES are Krita's own names

    def __init__(self, width: float | None = None, height: float | None = None, settings: Mapping[str, Any] | None = None,
                 brushes: Sequence[str] = DEFAULT_BRUSHES):
        known = width is not None and height is not None
        self.canvas: tuple[float, float] | None = (float(width), float(height)) if known else None
        """The canvas ``(width, height)`` (not capped at MAX_CANVAS), or None when unknown."""
        self.width = int(min(MAX_CANVAS, math.floor(width if known else MAX_CANVAS)))
        self.height = int(min(MAX_CANVAS, math.floor(height if known else MAX_CANVAS)))
        self.settings = dict(settings or DEFAULT_SETTINGS)
        self.brush_tokens: dict[str, None] = dict.fromkeys(brush_token(name) for name in brushes)
        self.layers: int = MAX_LAYERS
        self.eraser: bool | None = None
        self.can_undo = True
        self.recent: list[list[list[float]]] = []
        """The points (as written here) of the context's newest strokes, newest first: what ``copy=N`` copies."""

    # -- binding ------------------------------------------------------------------------------------

    def for_context(self, context: Any) -> KritaActionSpace:
        settings = current_settings(context)
        width, height = settings["canvas"] or (MAX_CANVAS, MAX_CANVAS)
        bound = KritaActionSpace.__new__(KritaActionSpace)
        bound.canvas = settings["canvas"]
        bound.width = int(min(MAX_CANVAS, math.floor(width)))
        bound.height = int(min(MAX_CANVAS, math.floor(height)))
        bound.settings = {key: settings[key] for key in BRUSH_KEYS}
        bound.brush_tokens = self.brush_tokens
        bound.layers = min(MAX_LAYERS, settings["layers"])
        bound.eraser = settings["eraser"]
        bound.can_undo = bool(settings["undo_steps"])
        bound.recent = self._recent_strokes(context)
        return bound

    def _recent_strokes(self, context: Any) -> list[list[list[float]]]:
        recent: list[list[list[float]]] = []
        for event in reversed(getattr(context, "history", None) or []):
            action = event.action
            if action is None or action.kind != STROKE_KIND:
                continue
            points = self._written_points(action)
            if points is not None:
                recent.append(points)
                if len(recent) == COPY_REFS:
                    break
        return recent

    def _by_content(self, table: str, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()``, kept in this space's ``table`` under ``key`` (built from action keys: the server
        parses each request's history anew); a table is cleared when it holds CONTENT_CACHE_SIZE entries."""
        cache = self.__dict__.setdefault(table, {})
        if key not in cache:
            if len(cache) >= CONTENT_CACHE_SIZE:
                cache.clear()
            cache[key] = compute()
        return cache[key]

    def _written_points(self, action: Action) -> list[list[float]] | None:
        """The points of a stroke as written in full here (None when it cannot be written)."""

        def points() -> list[list[float]] | None:
            try:
                return self._decode_stroke(self._full_tokens(action)).args["points"]
            except InvalidAction:
                return None

        return self._by_content("_written_cache", action.key(), points)

    def bind_tokenizer(self, tokenizer: Any) -> None:
        for token in tokenizer.get_vocab():
            if token.startswith(BRUSH_PREFIX):
                self.brush_tokens.setdefault(token, None)

    # -- vocabulary, encode, decode -----------------------------------------------------------------

    def check_kind(self, kind: str) -> None:
        if kind != STROKE_KIND and kind not in DISCRETE_KINDS:
            raise InvalidAction(unknown_kind(kind))

    def vocabulary(self) -> list[str]:
        return [
            *KIND_TOKENS, *SX_TOKENS, *SY_TOKENS, *OX_TOKENS, *OY_TOKENS, *PRESSURE_TOKENS,
            *DX_TOKENS.values(), *DY_TOKENS.values(), *COPY_TOKENS, *FLIP_TOKENS, *JX_TOKENS.values(), *JY_TOKENS.values(),
            *LAYER_TOKENS, *self.brush_tokens,
            *(token for tokens in CHANNEL_TOKENS.values() for token in tokens), *SIZE_TOKENS, *OPACITY_TOKENS,
            *ERASER_TOKENS,
        ]

    def history_tokens(self, action: Action, before: Iterable[Action] = ()) -> list[str]:
        """``action`` as a prompt writes it: a stroke that is a moved copy of one of the strokes just before
        it (``before``, newest first: the first COPY_REFS that can be written, as ``for_context`` takes
        them) as ``@stroke copy=N jx= jy=``, the form the model's own suggestions take; anything else as
        ``encode`` writes it. Remembered by content: the encoder and ``for_context`` read the same history
        request after request. ``InvalidAction`` as ``encode``."""
        if action.kind != STROKE_KIND:
            return self._full_tokens(action)
        sources: list[Action] = []
        recent: list[list[list[float]]] = []
        for stroke in before:
            points = self._written_points(stroke) if stroke.kind == STROKE_KIND else None
            if points is not None:
                sources.append(stroke)
                recent.append(points)
                if len(sources) == COPY_REFS:
                    break
        full = self._full_tokens(action)
        if not sources:
            return full

        def written() -> list[str]:
            copying = KritaActionSpace.__new__(KritaActionSpace)  # only what ``_copy_tokens`` reads
            copying.width, copying.height, copying.recent = self.width, self.height, recent
            return copying._copy_tokens(Stroke.from_action(action)) or full

        return self._by_content("_history_cache", (action.key(), *(stroke.key() for stroke in sources)), written)

    def _full_tokens(self, action: Action) -> list[str]:
        """``encode(action)`` without copies, remembered by content (``InvalidAction`` as ``encode``)."""

        def tokens() -> list[str] | InvalidAction:
            try:
                return self.encode(action)
            except InvalidAction as error:
                return error

        written = self._by_content("_full_cache", action.key(), tokens)
        if isinstance(written, InvalidAction):
            raise written
        return written

    def encode(self, action: Action) -> list[str]:
        if action.is_no_edit:
            return [NO_EDIT_TOKEN]
        kind, args = action.kind, action.args
        if kind == STROKE_KIND:
            return self._encode_stroke(action)
        if kind == "layer.new" or kind == "undo":
            return [f"@{kind}"]
        if kind == "layer.switch":
            index = args.get("index")
            if not _is_index(index):
                raise InvalidAction(f"layer.switch: args.index must be an integer from 0 to {MAX_LAYERS - 1}, got {index!r}")
            return ["@layer.switch", LAYER_TOKENS[index]]
        if kind == "brush":
            return ["@brush", brush_token(args.get("brush"))]
        if kind == "color":
            levels = quantize_color(args.get("color"))
            return ["@color", *(CHANNEL_TOKENS[channel][level] for channel, level in zip("rgb", levels))]
        if kind == "size":
            return ["@size", f"size={snap_size(args.get('size'))}"]
        if kind == "opacity":
            return ["@opacity", f"opacity={snap_opacity(args.get('opacity')):g}"]
        if kind == "eraser":
            if not isinstance(args.get("on"), bool):
                raise InvalidAction("eraser: args.on must be true or false")
            return ["@eraser", ERASER_TOKENS[int(args["on"])]]
        raise InvalidAction(unknown_kind(kind))

    def _encode_stroke(self, action: Action) -> list[str]:
        try:
            stroke = Stroke.from_action(action)
        except ValueError as error:
            raise InvalidAction(f"stroke: {error}") from None
        if stroke.length() < MIN_LENGTH:
            raise InvalidAction(f"stroke: shorter than {MIN_LENGTH:g} pixel, all its points fall on one spot")
        beyond = self._beyond_reach(stroke)
        if beyond is not None:
            raise InvalidAction(beyond)
        copy = self._copy_tokens(stroke)
        if copy is not None:
            return copy
        tokens: list[str] = []
        for epsilon, tolerance in FIT_STEPS:
            (x, y), moves = quantize_points(stroke.points, self.width, self.height, epsilon, tolerance)
            if not moves:
                raise InvalidAction("stroke: all its points fall on one spot (a stroke needs some length)")
            tokens = self._stroke_tokens(x, y, first_pressure(stroke.points), moves)
            if len(tokens) > MAX_STROKE_TOKENS:
                level = first_pressure(stroke.points)
                tokens = self._stroke_tokens(x, y, level, [(dx, dy, level) for dx, dy, _ in moves])
            if len(tokens) <= MAX_STROKE_TOKENS:
                return tokens
        raise InvalidAction(f"stroke: {len(tokens)} tokens even simplified, at most {MAX_STROKE_TOKENS} can be written")

    def _beyond_reach(self, stroke: Stroke) -> str | None:
        """Why ``stroke`` lies beyond what the grid writes, MAX_CANVAS pixels a side from the canvas's top left, or None.

        A point off the canvas is pulled onto the canvas's edge (as the Krita plugin records a stroke that leaves it) where
        that edge is within MAX_CANVAS; a point of a larger canvas beyond MAX_CANVAS (or beyond it at all, when the canvas
        is not known) cannot be written: pulled onto the grid's last line it would be a stroke where nobody painted."""
        width, height = self.canvas or (math.inf, math.inf)
        for x, y in stroke.xy:
            if min(x, width) > MAX_CANVAS or min(y, height) > MAX_CANVAS:
                canvas = f" (the canvas is {width:g}x{height:g})" if self.canvas else ""
                return f"stroke: the point ({x:g}, {y:g}) lies beyond the {MAX_CANVAS} pixels a side the krita action space writes{canvas}"
        return None

    @staticmethod
    def _stroke_tokens(x: int, y: int, level: int, moves: Sequence[tuple[int, int, int]]) -> list[str]:
        tokens = [STROKE_TOKEN, SX_TOKENS[x // CELL], SY_TOKENS[y // CELL], OX_TOKENS[(x % CELL) // OFFSET_STEP],
                  OY_TOKENS[(y % CELL) // OFFSET_STEP], PRESSURE_TOKENS[level]]
        for dx, dy, move_level in moves:
            if move_level != level:
                tokens.append(PRESSURE_TOKENS[move_level])
                level = move_level
            tokens += [DX_TOKENS[dx], DY_TOKENS[dy]]
        return tokens

    def decode(self, tokens: Sequence[str]) -> Action:
        tokens = list(tokens)
        if tokens == [NO_EDIT_TOKEN]:
            return NO_EDIT
        if not tokens or tokens[0] not in KIND_TOKENS:
            raise InvalidAction(f"not a krita action: {' '.join(tokens) or '(empty)'}")
        kind = KIND_TOKENS[tokens[0]]
        if kind == STROKE_KIND:
            return self._decode_stroke(tokens)
        if not self._complete(tokens):
            raise InvalidAction(f"{kind}: malformed tokens {' '.join(tokens[1:])}")
        rest = tokens[1:]
        if kind in ("layer.new", "undo"):
            args: dict[str, Any] = {}
        elif kind == "layer.switch":
            args = {"index": LAYER_TOKENS.index(rest[0])}
        elif kind == "brush":
            args = {"brush": brush_name(rest[0])}
        elif kind == "color":
            args = {"color": level_color([int(token.partition("=")[2]) for token in rest])}
        elif kind == "size":
            args = {"size": float(rest[0].partition("=")[2])}
        elif kind == "opacity":
            args = {"opacity": float(rest[0].partition("=")[2])}
        else:
            args = {"on": rest[0] == "on=1"}
        return Action(kind=kind, args=args)

    def _decode_stroke(self, tokens: list[str]) -> Action:
        if len(tokens) == 4 and tokens[1] in _COPY_INDEX:
            return self._decode_copy(tokens)
        if not self._complete(tokens):
            raise InvalidAction(f"stroke: malformed or off-canvas tokens {' '.join(tokens[1:])}")
        fields = [_INDEX[token] for token in tokens[1:]]
        values = dict(fields[:4])
        x = values["sx"] * CELL + values["ox"] * OFFSET_STEP
        y = values["sy"] * CELL + values["oy"] * OFFSET_STEP
        level = fields[4][1]
        points = [[float(x), float(y), level_pressure(level), 0.0]]
        pending_dx = 0
        for name, value in fields[5:]:
            if name == "p":
                level = value
            elif name == "dx":
                pending_dx = value
            else:
                x, y = x + pending_dx, y + value
                points.append([float(x), float(y), level_pressure(level), POINT_MS * len(points)])
        return self._stroke_action(points)

    def _stroke_action(self, points: list[list[float]]) -> Action:
        """A stroke through ``points`` painted with the current brush."""
        settings = self.settings
        args = {"points": points, "brush": settings["brush"], "color": settings["color"],
                "size": float(settings["size"]), "opacity": float(settings["opacity"])}
        return Action(kind=STROKE_KIND, args=args)

    def validate(self, action: Action) -> Action:
        """The action as written here (quantized); a stroke keeps the brush, colour, size and opacity it has."""
        if action.is_no_edit:
            return NO_EDIT
        decoded = self.decode(self.encode(action))
        if decoded.kind == STROKE_KIND:
            stroke = Stroke.from_action(action)
            args = dict(decoded.args)
            args.update(brush=stroke.brush or args["brush"], color=stroke.color, size=float(stroke.size), opacity=float(stroke.opacity))
            return Action(kind=STROKE_KIND, args=args)
        return decoded

    # -- copies ------------------------------------------------------------------------------------------

    def _copy_tokens(self, stroke: Stroke) -> list[str] | None:
        """``@stroke copy=N jx= jy=`` (or ``flip=N``) when a moved copy of a recent stroke (or of its mirror
        image) is within COPY_TOLERANCE of ``stroke``; of equals, the newest source, and a copy before a flip.

        A stroke that is exactly such a copy (a suggestion the model wrote as one, checked before it is
        served) is found without measuring all of them (Chamfer distances cost about a millisecond
        each): only an earlier candidate could win, at distance 0, and that needs the same extent."""
        from nep_krita.raster import chamfer_distance

        candidates = []
        for index in range(len(self.recent)):
            for token in (COPY_TOKENS[index], FLIP_TOKENS[index]):
                source = self._source(token)
                jx, jy = nearest_jump(stroke.points[0][0] - source[0][0]), nearest_jump(stroke.points[0][1] - source[0][1])
                if jx is None or jy is None or not self._copy_fits(token, jx, jy):
                    continue
                if len(source) == len(stroke.points) and all(
                        x + jx == point[0] and y + jy == point[1] for (x, y, *_), point in zip(source, stroke.points)):
                    extent = _extent(stroke.points)
                    for earlier, earlier_jx, earlier_jy, earlier_source in candidates:
                        moved = [(x + earlier_jx, y + earlier_jy) for x, y, *_ in earlier_source]
                        if _extent(moved) == extent and chamfer_distance(stroke, Stroke(tuple((x, y, 1.0, 0.0) for x, y in moved))) == 0:
                            return [STROKE_TOKEN, earlier, JX_TOKENS[earlier_jx], JY_TOKENS[earlier_jy]]
                    return [STROKE_TOKEN, token, JX_TOKENS[jx], JY_TOKENS[jy]]
                candidates.append((token, jx, jy, source))
        best, best_distance = None, COPY_TOLERANCE
        for token, jx, jy, source in candidates:
            moved = Stroke(tuple((x + jx, y + jy, pressure, t) for x, y, pressure, t in source))
            distance = chamfer_distance(stroke, moved)
            if distance < best_distance or (best is None and distance <= best_distance):
                best, best_distance = [STROKE_TOKEN, token, JX_TOKENS[jx], JY_TOKENS[jy]], distance
        return best

    def _source(self, token: str) -> list[list[float]]:
        """The points a copy token moves: a recent stroke, or its mirror image about its start's vertical."""
        index, mirrored = _COPY_INDEX[token]
        points = self.recent[index]
        if not mirrored:
            return points
        flips = self.__dict__.setdefault("_flips", {})
        if index not in flips:
            axis = points[0][0]
            flips[index] = [[2 * axis - x, y, *rest] for x, y, *rest in points]
        return flips[index]

    def _decode_copy(self, tokens: list[str]) -> Action:
        index, _ = _COPY_INDEX[tokens[1]]
        (x_name, jx), (y_name, jy) = _JUMP_INDEX.get(tokens[2], ("", 0)), _JUMP_INDEX.get(tokens[3], ("", 0))
        if index >= len(self.recent) or (x_name, y_name) != ("jx", "jy"):
            raise InvalidAction(f"stroke: malformed copy tokens {' '.join(tokens[1:])}")
        if not self._copy_fits(tokens[1], jx, jy):
            raise InvalidAction(f"stroke: the copy {' '.join(tokens[1:])} leaves the canvas")
        return self._stroke_action([[x + jx, y + jy, pressure, t] for x, y, pressure, t in self._source(tokens[1])])

    def _copy_fits(self, token: str, jx: int, jy: int) -> bool:
        x0, x1, y0, y1 = self._extent_of(token)
        return 0 <= x0 + jx and x1 + jx <= self.width and 0 <= y0 + jy and y1 + jy <= self.height

    def _copy_next(self, prefix: Sequence[str]) -> list[str]:
        """After ``@stroke copy=N`` (or ``flip=N``): the jumps that keep the copy on the canvas, then the end."""
        index, _ = _COPY_INDEX.get(prefix[1], (COPY_REFS, False))
        if index >= len(self.recent):
            return []
        x0, x1, y0, y1 = self._extent_of(prefix[1])
        jumps = [_JUMP_INDEX.get(token, ("", 0)) for token in prefix[2:]]
        if [name for name, _ in jumps] != ["jx", "jy"][: len(jumps)]:
            return []
        if jumps and not 0 <= x0 + jumps[0][1] <= x1 + jumps[0][1] <= self.width:
            return []
        if len(jumps) == 2 and not 0 <= y0 + jumps[1][1] <= y1 + jumps[1][1] <= self.height:
            return []
        if len(jumps) == 2:
            return [EOS]
        if len(jumps) > 2:
            return []
        cache = self.__dict__.setdefault("_jump_cache", {})
        key = (prefix[1], len(jumps))
        if key not in cache:
            if not jumps:
                cache[key] = [token for jump, token in JX_TOKENS.items() if 0 <= x0 + jump and x1 + jump <= self.width]
            else:
                cache[key] = [token for jump, token in JY_TOKENS.items() if 0 <= y0 + jump and y1 + jump <= self.height]
        return cache[key]

    def _extent_of(self, token: str) -> tuple[float, float, float, float]:
        """The extent of what the copy token ``token`` moves (its source must exist)."""
        extents = self.__dict__.setdefault("_extents", {})
        if token not in extents:
            extents[token] = _extent(self._source(token))
        return extents[token]

    def _copy_key(self, prefix: Sequence[str]) -> Hashable:
        index, _ = _COPY_INDEX[prefix[1]]
        extent = self._extent_of(prefix[1]) if index < len(self.recent) else None
        return ("copy", tuple(prefix[2:]), extent, self.width, self.height)

    # -- the grammar ----------------------------------------------------------------------------------

    def _complete(self, tokens: Sequence[str]) -> bool:
        """Whether the grammar allows ``tokens`` and then EOS; a stroke's drawn points by parsing them
        (``_advance`` accepts exactly what ``_stroke_next`` allows) instead of listing every step's choices."""
        if len(tokens) >= 2 and tokens[0] == STROKE_TOKEN and tokens[1] not in _COPY_INDEX:
            state = self._parse_stroke(tokens)
            return state is not None and state.field == "move" and state.moved
        return all(token in self.allowed_next(tokens[:index]) for index, token in enumerate(tokens)) and EOS in self.allowed_next(tokens)

    def _parse_stroke(self, prefix: Sequence[str]) -> _StrokeParse | None:
        """The stroke prefix's position (None when it is not a valid prefix), parsed incrementally
        from its own prefix and cached."""
        key = tuple(prefix)
        cache = self.__dict__.setdefault("_parse_cache", {})
        if key in cache:
            return cache[key]
        if len(key) <= 1:
            state = _StrokeParse("sx") if key == (STROKE_TOKEN,) else None
        else:
            previous = self._parse_stroke(key[:-1])
            state = None if previous is None else self._advance(previous, len(key) - 1, key[-1])
        if len(cache) >= PARSE_CACHE_SIZE:
            cache.clear()
        cache[key] = state
        return state

    def _advance(self, state: _StrokeParse, before: int, token: str) -> _StrokeParse | None:
        """The state after ``token``, which follows ``before`` tokens; None when it may not come there."""
        entry = _INDEX.get(token)
        if entry is None:
            return None
        name, value = entry
        field = state.field
        if field in ("sx", "sy", "ox", "oy", "p"):
            if name != field or value not in self._header_range(field, state):
                return None
            if field == "sx":
                return replace(state, field="sy", sx=value)
            if field == "sy":
                return replace(state, field="ox", sy=value)
            if field == "ox":
                return replace(state, field="oy", ox=value)
            if field == "oy":
                return replace(state, field="p", x=state.sx * CELL + state.ox * OFFSET_STEP, y=state.sy * CELL + value * OFFSET_STEP)
            return replace(state, field="move", level=value)
        if field == "move":
            if name == "p" and value != state.level and before + 3 <= MAX_STROKE_TOKENS:
                return replace(state, field="dx", level=value)
            field = "dx"
        if field == "dx":
            if name != "dx" or before + 2 > MAX_STROKE_TOKENS or not 0 <= state.x + value <= self.width:
                return None
            return replace(state, field="dy", dx=value)
        if name != "dy" or not 0 <= state.y + value <= self.height or (state.dx == 0 and value == 0):
            return None
        return replace(state, field="move", x=state.x + state.dx, y=state.y + value, moved=True, dx=0)

    def _header_range(self, name: str, state: _StrokeParse) -> range:
        if name == "sx":
            return range(self.width // CELL + 1)
        if name == "sy":
            return range(self.height // CELL + 1)
        if name in ("ox", "oy"):
            cell = state.sx if name == "ox" else state.sy
            limit = self.width if name == "ox" else self.height
            return range(min(OFFSETS, (limit - cell * CELL) // OFFSET_STEP + 1))
        return range(PRESSURE_LEVELS)

    def _stroke_key(self, prefix: Sequence[str]) -> Hashable:
        state = self._parse_stroke(prefix)
        if state is None:
            return ("dead",)
        if state.field in ("sx", "sy", "ox", "oy", "p"):
            return (state.field, len(self._header_range(state.field, state)), len(self.recent) if state.field == "sx" else 0)
        room_x = (min(state.x, MAX_MOVE), min(self.width - state.x, MAX_MOVE))
        room_y = (min(state.y, MAX_MOVE), min(self.height - state.y, MAX_MOVE))
        if state.field == "move":
            return ("move", room_x, state.level, state.moved, min(MAX_STROKE_TOKENS - len(prefix), 3))
        if state.field == "dx":
            return ("dx", room_x)
        return ("dy", room_y, state.dx == 0)

    def grammar_key(self, prefix: Sequence[str]) -> Hashable:
        if not prefix:
            return ("start", self.can_undo)
        if prefix[0] == STROKE_TOKEN:
            if len(prefix) >= 2 and prefix[1] in _COPY_INDEX:
                return self._copy_key(prefix)
            return self._stroke_key(prefix)
        return ("tuple", tuple(prefix), len(self.brush_tokens) if prefix[0] == "@brush" else 0, self.layers, self.eraser, self.can_undo)

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        if not prefix:
            return [NO_EDIT_TOKEN, *(token for token in KIND_TOKENS if token != "@undo" or self.can_undo)]
        head = prefix[0]
        if head == NO_EDIT_TOKEN:
            return [EOS] if len(prefix) == 1 else []
        if head == STROKE_TOKEN:
            return self._stroke_next(prefix)
        kind = KIND_TOKENS.get(head)
        if kind is None:
            return []
        slots = self._slots(kind)
        position = len(prefix) - 1
        if position > len(slots):
            return []
        if any(token not in slots[index] for index, token in enumerate(prefix[1:])):
            return []
        return [EOS] if position == len(slots) else list(slots[position])

    def _slots(self, kind: str) -> list[Collection[str]]:
        if kind == "layer.switch":
            return [LAYER_TOKENS[: self.layers]]
        if kind == "brush":
            return [self.brush_tokens]
        if kind == "color":
            return [CHANNEL_TOKENS["r"], CHANNEL_TOKENS["g"], CHANNEL_TOKENS["b"]]
        if kind == "size":
            return [SIZE_TOKENS]
        if kind == "opacity":
            return [OPACITY_TOKENS]
        if kind == "eraser":
            return [ERASER_TOKENS if self.eraser is None else [ERASER_TOKENS[int(not self.eraser)]]]
        return []

    def _stroke_next(self, prefix: Sequence[str]) -> list[str]:
        if len(prefix) >= 2 and prefix[1] in _COPY_INDEX:
            return self._copy_next(prefix)
        state = self._parse_stroke(prefix)
        if state is None:
            return []
        if state.field in ("sx", "sy", "ox", "oy", "p"):
            tokens = {"sx": SX_TOKENS, "sy": SY_TOKENS, "ox": OX_TOKENS, "oy": OY_TOKENS, "p": PRESSURE_TOKENS}[state.field]
            allowed = [tokens[value] for value in self._header_range(state.field, state)]
            return allowed + COPY_TOKENS[: len(self.recent)] + FLIP_TOKENS[: len(self.recent)] if state.field == "sx" else allowed
        if state.field == "dy":
            return [DY_TOKENS[move] for move in SIGNED_MOVES
                    if 0 <= state.y + move <= self.height and not (state.dx == 0 and move == 0)]
        dx = [DX_TOKENS[move] for move in SIGNED_MOVES if 0 <= state.x + move <= self.width]
        if state.field == "dx":
            return dx
        allowed = [EOS] if state.moved else []
        room = MAX_STROKE_TOKENS - len(prefix)
        if room >= 2:
            allowed += dx
        if room >= 3:
            allowed += [token for level, token in enumerate(PRESSURE_TOKENS) if level != state.level]
        return allowed

    # -- locations and labels ---------------------------------------------------------------------------

    def location(self, action: Action) -> Hashable:
        """A stroke's start cell ``(sx, sy)``; a discrete action's kind."""
        if action.kind == STROKE_KIND:
            try:
                x, y = Stroke.from_action(action).points[0][:2]
            except ValueError:
                return "stroke:?"
            return (snap_start(x, MAX_CANVAS) // CELL, snap_start(y, MAX_CANVAS) // CELL)
        return action.kind

    def describe(self, action: Action) -> str:
        if action.is_no_edit:
            return "no edit"
        if action.kind == STROKE_KIND:
            points = action.args.get("points")
            try:  # a label, not a check: a malformed stroke from a request's history is just "stroke"
                (x0, y0), (x1, y1) = points[0][:2], points[-1][:2]
                return f"stroke from ({x0:g}, {y0:g}) to ({x1:g}, {y1:g}), {len(points)} points" if len(points) >= 2 else "stroke"
            except (TypeError, ValueError, IndexError, KeyError):
                return "stroke"
        return super().describe(action)

