"""Where blender sessions come from besides the synthetic generator: the add-on's logs and scripts.

What the collectors share: warnings of bounded length, and integer properties written as ints.
"""

from __future__ import annotations

from dataclasses import replace

from nep_core.actions import Action
from nep_blender.action_space import flatten_args, nest_args
from nep_blender.registry import OperatorSpec

MESSAGE_CHARACTERS = 300
"""How much of a reason a warning line echoes (a bad value can be megabytes)."""


def capped(text: str, limit: int = MESSAGE_CHARACTERS) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_whole_float(value) -> bool:
    return isinstance(value, float) and value.is_integer()


def with_int_values(action: Action, spec: OperatorSpec) -> Action:
    """``action`` with whole floats given for integer properties (``number_cuts=3.0``) as ints, as bpy
    takes them; call it on an action the action space has accepted."""
    flat = flatten_args(dict(action.args))
    changed = False
    for name, value in flat.items():
        prop = spec.property(name)
        if prop is None or prop.type != "INT":
            continue
        items = value if isinstance(value, list) else [value]
        if any(_is_whole_float(item) for item in items):
            whole = [int(item) if _is_whole_float(item) else item for item in items]
            flat[name] = whole if isinstance(value, list) else whole[0]
            changed = True
    return replace(action, args=nest_args(flat)) if changed else action
