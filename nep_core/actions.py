"""Actions: one domain event, and the NO_EDIT sentinel."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping

NO_EDIT_KIND = "no_edit"


@dataclass(frozen=True, eq=False)
class Action:
    """One domain event.

    ``kind`` names the operation (``mesh.extrude_region_move``, ``stroke``, ``trim_out``);
    ``target`` is its location (JSON: a string, list or object); ``args`` are its typed arguments;
    ``context`` is what the app knew when it happened (mode, selection); ``edit`` is False for
    view changes, selection and navigation, which are context rather than suggestions.
    """

    kind: str
    target: Any = None
    args: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    edit: bool = True

    @property
    def is_no_edit(self) -> bool:
        return self.kind == NO_EDIT_KIND

    def key(self) -> str:
        """Canonical identity of the action (kind, target, args): equal keys mean an exact match.

        Written once per action and kept (an action is a value: its fields are never changed in place).
        """
        key = self.__dict__.get("_key")
        if key is None:
            key = json.dumps([self.kind, self.target, self.args], sort_keys=True, separators=(",", ":"))
            object.__setattr__(self, "_key", key)
        return key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Action) and self.key() == other.key() and self.edit == other.edit

    def __hash__(self) -> int:
        return hash(self.key())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.target is not None:
            out["target"] = self.target
        if self.args:
            out["args"] = dict(self.args)
        if self.context:
            out["context"] = dict(self.context)
        if not self.edit:
            out["edit"] = False
        return out

    @classmethod
    def from_json(cls, data: Any) -> Action:
        """Build an action from its JSON object; raises ``ValueError`` naming the bad field."""
        if not isinstance(data, dict):
            raise ValueError(f"action must be an object, got {type(data).__name__}")
        kind = data.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ValueError("action.kind must be a non-empty string")
        args = data.get("args", {})
        if not isinstance(args, dict):
            raise ValueError("action.args must be an object")
        context = data.get("context", {})
        if not isinstance(context, dict):
            raise ValueError("action.context must be an object")
        edit = data.get("edit", True)
        if not isinstance(edit, bool):
            raise ValueError("action.edit must be true or false")
        _check_finite(args, "action.args")
        _check_finite(data.get("target"), "action.target")
        return cls(kind=kind, target=data.get("target"), args=args, context=context, edit=edit)

    def __repr__(self) -> str:
        return f"Action({self.key()}{'' if self.edit else ', edit=False'})"


def is_finite_number(value: Any) -> bool:
    """A real number (not a bool; numpy's count) that is finite as a float: JSON's ``1e999`` and ``10**400`` are not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _check_finite(value: Any, where: str) -> None:
    """Raise ``ValueError`` naming ``where`` for a number in ``value`` that is not finite as a float."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not is_finite_number(value):
        raise ValueError(f"{where} contains a non-finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for item in value:
            _check_finite(item, where)


NO_EDIT = Action(kind=NO_EDIT_KIND)
"""The sentinel that means "suggest nothing"."""
