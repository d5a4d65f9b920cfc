"""The Blender history encoder: recent operator calls, then the current mode, active object type and selection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from nep_core.action_space import UNK
from nep_core.encoder import ActionHistoryEncoder
from nep_core.session import Context

MODES = (
    "OBJECT", "EDIT_MESH", "EDIT_CURVE", "EDIT_CURVES", "EDIT_SURFACE", "EDIT_TEXT", "EDIT_ARMATURE", "EDIT_METABALL",
    "EDIT_LATTICE", "EDIT_GREASE_PENCIL", "EDIT_POINTCLOUD", "POSE", "SCULPT", "PAINT_WEIGHT", "PAINT_VERTEX",
    "PAINT_TEXTURE", "PARTICLE", "PAINT_GREASE_PENCIL", "SCULPT_GREASE_PENCIL", "WEIGHT_GREASE_PENCIL",
    "VERTEX_GREASE_PENCIL", "SCULPT_CURVES",
)
"""``bpy.context.mode`` values."""

OBJECT_TYPES = (
    "NONE", "MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME", "GREASEPENCIL", "ARMATURE",
    "LATTICE", "EMPTY", "LIGHT", "LIGHT_PROBE", "CAMERA", "SPEAKER",
)
"""``Object.type`` values, and NONE for no active object."""

SELECTED_BUCKETS = ("0", "1", "2", "3", "4+")


def context_tokens(context: Mapping[str, Any]) -> list[str]:
    """``m:EDIT_MESH a:MESH s:1`` for ``{"mode": "EDIT_MESH", "active": "MESH", "selected": 1}``."""
    mode = context.get("mode")
    active = context.get("active") or "NONE"
    selected = context.get("selected")
    tokens = [f"m:{mode}" if mode in MODES else UNK, f"a:{active}" if active in OBJECT_TYPES else UNK]
    if isinstance(selected, int) and not isinstance(selected, bool) and selected >= 0:
        tokens.append(f"s:{min(selected, 4)}" if selected < 4 else "s:4+")
    return tokens


@dataclass
class BlenderEncoder(ActionHistoryEncoder):
    """Each recent operator call as its tokens (pauses as ``dt>`` tokens), then the current context.

    The context is the newest ``state`` snapshot when there is one (``{"mode", "active", "selected"}``),
    otherwise the ``context`` the newest operator call was recorded with.
    """

    max_tokens: int = 256
    max_events: int = 24

    def encode(self, context: Context) -> list[str]:
        current = dict(context.state or {})
        if "mode" not in current:
            for event in reversed(context.history):
                if event.action is not None and "mode" in event.action.context:
                    current = dict(event.action.context)
                    break
        return super().encode(Context(history=context.history, state=current, session_id=context.session_id, meta=context.meta))

    def state_tokens(self, state: Mapping[str, Any] | None) -> list[str]:
        return context_tokens(state) if state else []

    def vocabulary(self) -> list[str]:
        return [
            *super().vocabulary(),
            *(f"m:{mode}" for mode in MODES),
            *(f"a:{kind}" for kind in OBJECT_TYPES),
            *(f"s:{bucket}" for bucket in SELECTED_BUCKETS),
        ]
