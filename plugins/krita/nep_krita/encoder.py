"""The krita history encoder: the newest strokes and actions within a token budget, then the painter's state.

History: each recent action as its action-space tokens, a stroke as the model's own suggestions write
it (``KritaActionSpace.history_tokens``: a moved copy of one of the four strokes before it as
``@stroke copy=N jx= jy=``, or of its mirror image as ``flip=N``, four tokens, otherwise in full), a
pause before it as a ``dt>`` gap token, an action the space cannot write as ``<unk>`` (a stroke beyond
``MAX_CANVAS`` pixels, on a larger canvas, among them: never as if painted on the grid's last line).
The window starts at an anchor action (``nep_core.encoder.window_start``, about one action in
``stride``), so the prompts of a growing session share their beginning (the server's KV cache is
reused), even when the client sends only its newest events.
State (after the history): ``cw= ch=`` canvas size in 32-pixel cells (bucketed), the current
``size=``, ``opacity=``, colour ``r= g= b=``, ``on=`` eraser and ``layer=`` index, and
``pen sx= sy=``: the cell where the newest stroke ended (left out when that is beyond ``MAX_CANVAS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from nep_core.action_space import UNK
from nep_core.encoder import ActionHistoryEncoder, gap_token
from nep_core.errors import InvalidAction
from nep_core.session import Context
from nep_krita.action_space import (
    CELL, CHANNEL_TOKENS, ERASER_TOKENS, LAYER_TOKENS, MAX_CANVAS, MAX_LAYERS, OPACITY_TOKENS, SX_TOKENS, SY_TOKENS,
    KritaActionSpace, current_settings, quantize_color, snap_opacity, snap_size,
)
from nep_krita.strokes import STROKE_KIND

CANVAS_BUCKETS = (8, 16, 32, 48, 64, 96, 128, 192, 257)
"""Canvas sides in cells (32 px): a side is written as the smallest bucket that holds it."""


def canvas_tokens(canvas: tuple[float, float] | None) -> list[str]:
    if canvas is None:
        return ["cw=?", "ch=?"]
    tokens = []
    for name, side in zip(("cw", "ch"), canvas):
        cells = side / CELL
        bucket = next((bucket for bucket in CANVAS_BUCKETS if cells <= bucket), CANVAS_BUCKETS[-1])
        tokens.append(f"{name}={bucket}")
    return tokens


@dataclass
class KritaEncoder(ActionHistoryEncoder):
    """Recent actions (strokes in full), then the canvas, brush settings, eraser, layer and pen cell."""

    action_space: KritaActionSpace
    max_tokens: int = 256
    max_events: int = 16

    def encode(self, context: Context) -> list[str]:
        """The window of recent actions (``window_tokens``), then the state."""
        state_part = self.state_tokens_for(context)
        budget = max(0, self.max_tokens - len(state_part))
        events = [event for event in context.history if event.action is not None]
        return self.window_tokens(events, lambda index: self._event_chunk(events, index), budget) + state_part

    def _event_chunk(self, events, index: int) -> list[str]:
        event = events[index]
        try:
            earlier = (events[before].action for before in range(index - 1, -1, -1))
            tokens = self.action_space.history_tokens(event.action, earlier)
        except InvalidAction:
            tokens = [UNK]
        gap = gap_token(event.t - events[index - 1].t) if index else None
        return ([gap] if gap else []) + tokens

    def state_tokens_for(self, context: Context) -> list[str]:
        self._context = context
        try:
            return self.state_tokens(context.state)
        finally:
            self._context = None

    def state_tokens(self, state: Mapping[str, Any] | None) -> list[str]:
        context = self.__dict__.get("_context")
        if context is None:
            context = Context(history=[], state=state)
        settings = current_settings(context)
        tokens = canvas_tokens(settings["canvas"])
        tokens.append(f"size={snap_size(settings['size'])}")
        tokens.append(OPACITY_TOKENS[round(snap_opacity(settings["opacity"]) * 10)])
        levels = quantize_color(settings["color"])
        tokens += [CHANNEL_TOKENS[channel][level] for channel, level in zip("rgb", levels)]
        tokens.append(ERASER_TOKENS[int(bool(settings["eraser"]))])
        tokens.append(LAYER_TOKENS[min(settings["layer"], MAX_LAYERS - 1)])
        end = _last_stroke_end(context)
        if end is not None and max(end) <= MAX_CANVAS:  # beyond the grid (a canvas over MAX_CANVAS): where, the prompt cannot say
            tokens += ["pen", SX_TOKENS[int(end[0]) // CELL], SY_TOKENS[int(end[1]) // CELL]]
        return tokens

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "strokes": "copies"}

    def vocabulary(self) -> list[str]:
        canvas = [f"{name}={bucket}" for name in ("cw", "ch") for bucket in CANVAS_BUCKETS]
        return [*super().vocabulary(), *canvas, "cw=?", "ch=?", "pen"]


def _last_stroke_end(context: Context) -> tuple[float, float] | None:
    for event in reversed(context.history):
        action = event.action
        if action is not None and action.kind == STROKE_KIND:
            points = action.args.get("points")
            if isinstance(points, list) and points and isinstance(points[-1], (list, tuple)) and len(points[-1]) >= 2:
                x, y = points[-1][0], points[-1][1]
                if isinstance(x, (int, float)) and isinstance(y, (int, float)) and x == x and y == y:
                    return max(0.0, float(x)), max(0.0, float(y))
            return None
    return None
