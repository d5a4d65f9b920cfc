"""Blender operator calls as tokens, with a grammar built from the real operator registry.

An action is ``@mesh.primitive_cube_add p:size f:0.5 p:location f:0 f:0 f:1``: the operator, then
each property that differs from its default, in registry order, each name followed by its value
(one token per array item). Values are typed as Blender types them: ``b:1``/``b:0`` booleans,
``i:N`` integers and ``f:X`` floats on the grids of ``nep_blender.quantize`` (angles in degrees),
``e:ITEM`` enum items. The grammar allows only operators of the registry, only their properties,
each at most once and in order, and only values within each property's hard range and items, so
every decoded action is a real operator call with well-typed properties. String properties, enum
flag sets and item-less (dynamic) enums are kept in the logs but not written as tokens.

Calls that reach outside the scene or bake to disk (``image.save``, ``export_scene.fbx``,
``ptcache.bake_all``: ``bpy_calls.outside_reason``) are written in the history, where a user may
have run them, but are not edits, so decoding never starts a suggestion with one, and ``validate``
refuses them, so the server drops one whatever predicted it.

Action ``args`` are exactly the keyword arguments of the Python call: a macro's sub-operator
properties nest, ``{"TRANSFORM_OT_translate": {"value": [0, 0, 1]}}``; angles stay in radians.
"""

from __future__ import annotations

import math
from typing import Any, Collection, Hashable, Iterable, Sequence

from nep_core.action_space import EOS, NO_EDIT_TOKEN, ActionSpace
from nep_core.actions import NO_EDIT, Action, is_finite_number
from nep_core.errors import InvalidAction
from nep_blender.bpy_calls import outside_reason
from nep_blender.quantize import float_grid, float_token, int_grid, int_token, quantize_float, quantize_int
from nep_blender.registry import OperatorRegistry, OperatorSpec, PropertySpec

BOOL_TOKENS = {"b:1": True, "b:0": False}


def flatten_args(args: dict[str, Any]) -> dict[str, Any]:
    """``{"SUB_OT_x": {"value": 1}}`` to ``{"SUB_OT_x.value": 1}``; other names unchanged."""
    flat: dict[str, Any] = {}
    for name, value in args.items():
        if isinstance(value, dict) and "_OT_" in name:
            for sub_name, sub_value in value.items():
                flat[f"{name}.{sub_name}"] = sub_value
        else:
            flat[name] = value
    return flat


def nest_args(flat: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``flatten_args``: the keyword arguments of the operator call."""
    args: dict[str, Any] = {}
    for name, value in flat.items():
        outer, dot, inner = name.partition(".")
        if dot:
            args.setdefault(outer, {})[inner] = value
        else:
            args[name] = value
    return args


SHOWN_CHARACTERS = 80
"""How much of a bad value a message echoes."""


def shown(value: Any, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters with an ellipsis."""
    try:
        text = repr(value[: limit + 1] if isinstance(value, str) else value)
    except ValueError:  # an integer beyond Python's digit limit for str()
        text = f"an integer of {value.bit_length()} bits"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class BlenderActionSpace(ActionSpace):
    """Operator calls of one Blender's registry (see the module docstring)."""

    name = "blender"

    def __init__(self, registry: OperatorRegistry):
        self.registry = registry
        self.version = f"bpy-{registry.blender}"
        self._op_tokens = {f"@{idname}": spec for idname, spec in registry.operators.items()}
        self._non_edit_starts: frozenset[str] | None = None
        self._value_tokens: dict[tuple, list[str]] = {}
        self._property_indexes: dict[str, dict[str, int]] = {}
        self._value_sets: dict[int, frozenset[str]] = {}
        self._float_tokens = {float_token(value): value for value in float_grid()}
        self._int_tokens = {int_token(value): value for value in int_grid()}
        self._tokenized: dict[str, list[PropertySpec]] = {}

    # Properties -----------------------------------------------------------------------------

    def tokenized_properties(self, spec: OperatorSpec) -> list[PropertySpec]:
        props = self._tokenized.get(spec.idname)
        if props is None:
            props = self._tokenized[spec.idname] = [prop for prop in spec.properties if prop.tokenized]
        return props

    def operator(self, kind: str) -> OperatorSpec:
        spec = self.registry.get(kind)
        if spec is None:
            raise InvalidAction(f"Blender {self.registry.blender} has no operator '{kind}'")
        return spec

    def quantize_value(self, prop: PropertySpec, value: Any) -> Any:
        """``value`` as this property's tokens can write it (angles in radians); raises InvalidAction."""
        if prop.length:
            if not isinstance(value, (list, tuple)) or len(value) != prop.length:
                raise InvalidAction(f"property '{prop.name}' takes {prop.length} values, got {value!r}")
            return [self._quantize_item(prop, item) for item in value]
        return self._quantize_item(prop, value)

    def _quantize_item(self, prop: PropertySpec, value: Any) -> Any:
        if prop.type == "BOOLEAN":
            if not isinstance(value, bool):
                raise InvalidAction(f"property '{prop.name}' is a boolean, got {shown(value)}")
            return value
        if prop.type == "ENUM":
            if not isinstance(value, str) or value not in prop.items:
                raise InvalidAction(f"property '{prop.name}' has no item {shown(value)}")
            return value
        if not is_finite_number(value):
            raise InvalidAction(f"property '{prop.name}' must be a finite number, got {shown(value)}")
        if prop.min is not None and value < prop.min - 1e-6 or prop.max is not None and value > prop.max + 1e-6:
            raise InvalidAction(f"property '{prop.name}'={shown(value)} is outside [{prop.min}, {prop.max}]")
        if prop.type == "INT":
            if isinstance(value, float) and not value.is_integer():
                raise InvalidAction(f"property '{prop.name}' is an integer, got {shown(value)}")
            return quantize_int(int(value))
        if prop.is_angle:
            return math.radians(quantize_float(math.degrees(value)))
        return quantize_float(float(value))

    def value_tokens(self, prop: PropertySpec, value: Any) -> list[str]:
        items = value if prop.length else [value]
        if prop.type == "BOOLEAN":
            return ["b:1" if item else "b:0" for item in items]
        if prop.type == "ENUM":
            return [f"e:{item}" for item in items]
        if prop.type == "INT":
            return [int_token(quantize_int(int(item))) for item in items]
        return [float_token(quantize_float(math.degrees(item) if prop.is_angle else item)) for item in items]

    def allowed_values(self, prop: PropertySpec) -> list[str]:
        """Every value token this property may take (one array item)."""
        key = (prop.type, prop.subtype in ("ANGLE", "EULER"), prop.min, prop.max, prop.items)
        tokens = self._value_tokens.get(key)
        if tokens is None:
            if prop.type == "BOOLEAN":
                tokens = list(BOOL_TOKENS)
            elif prop.type == "ENUM":
                tokens = [f"e:{item}" for item in prop.items]
            elif prop.type == "INT":
                low = -math.inf if prop.min is None else prop.min
                high = math.inf if prop.max is None else prop.max
                tokens = [int_token(value) for value in int_grid() if low <= value <= high]
            else:
                low = -math.inf if prop.min is None else prop.min
                high = math.inf if prop.max is None else prop.max
                if prop.is_angle:
                    low, high = math.degrees(low), math.degrees(high)
                tokens = [float_token(value) for value in float_grid(low, high)]
            self._value_tokens[key] = tokens
        return tokens

    def _value_of(self, prop: PropertySpec, token: str) -> Any:
        if prop.type == "BOOLEAN" and token in BOOL_TOKENS:
            return BOOL_TOKENS[token]
        if prop.type == "ENUM" and token.startswith("e:") and token[2:] in prop.items:
            return token[2:]
        if prop.type == "INT" and token in self._int_tokens:
            return self._int_tokens[token]
        if prop.type == "FLOAT" and token in self._float_tokens:
            value = self._float_tokens[token]
            return math.radians(value) if prop.is_angle else value
        raise InvalidAction(f"'{token}' is not a value of property '{prop.name}'")

    # ActionSpace -----------------------------------------------------------------------------

    def vocabulary(self) -> list[str]:
        seen: dict[str, None] = dict.fromkeys(self._op_tokens)
        for spec in self.registry.operators.values():
            for prop in self.tokenized_properties(spec):
                seen[f"p:{prop.name}"] = None
                if prop.type == "ENUM":
                    seen.update(dict.fromkeys(f"e:{item}" for item in prop.items))
        seen.update(dict.fromkeys(BOOL_TOKENS))
        seen.update(dict.fromkeys(self._int_tokens))
        seen.update(dict.fromkeys(self._float_tokens))
        return list(seen)

    def encode(self, action: Action) -> list[str]:
        if action.is_no_edit:
            return [NO_EDIT_TOKEN]
        spec = self.operator(action.kind)
        flat = flatten_args(dict(action.args))
        for name, value in flat.items():
            if spec.property(name) is None:
                if "_OT_" in name and "." not in name:  # a macro's operator given something other than its properties
                    raise InvalidAction(f"operator '{spec.idname}': '{name}' must be an object of the macro's properties, "
                                        f"got {type(value).__name__}")
                raise InvalidAction(f"operator '{spec.idname}' has no property '{name}'")
        tokens = [f"@{spec.idname}"]
        for prop in self.tokenized_properties(spec):
            if prop.name not in flat:
                continue
            value = self.quantize_value(prop, flat[prop.name])
            if prop.default is not None and self._same(prop, value, prop.default):
                continue
            tokens.append(f"p:{prop.name}")
            tokens.extend(self.value_tokens(prop, value))
        return tokens

    def _same(self, prop: PropertySpec, value: Any, default: Any) -> bool:
        try:
            return self.value_tokens(prop, value) == self.value_tokens(prop, self.quantize_value(prop, default))
        except (InvalidAction, TypeError, ValueError):
            return False

    def _parse(self, tokens: Sequence[str]) -> tuple[OperatorSpec, dict[str, Any], int, PropertySpec | None, list[Any]]:
        """(operator, finished flat args, index of the last property, property being read, its values so far)."""
        spec = self._op_tokens.get(tokens[0]) if tokens else None
        if spec is None:
            raise InvalidAction(f"not an operator call: {' '.join(tokens) or '(empty)'}")
        props = self.tokenized_properties(spec)
        index_of = {f"p:{prop.name}": index for index, prop in enumerate(props)}
        flat: dict[str, Any] = {}
        last, pending, values = -1, None, []
        for token in tokens[1:]:
            if pending is None:
                index = index_of.get(token)
                if index is None or index <= last:
                    raise InvalidAction(f"{spec.idname}: '{token}' is not a property that may come here")
                last, pending, values = index, props[index], []
                continue
            values.append(self._value_of(pending, token))
            if len(values) == max(1, pending.length):
                value = values if pending.length else values[0]
                if pending.default is None or not self._same(pending, value, pending.default):
                    flat[pending.name] = value  # a default spelled out is the same call without it
                pending = None
        return spec, flat, last, pending, values

    def decode(self, tokens: Sequence[str]) -> Action:
        if list(tokens) == [NO_EDIT_TOKEN]:
            return NO_EDIT
        spec, flat, _, pending, _ = self._parse(tokens)
        if pending is not None:
            raise InvalidAction(f"{spec.idname}: property '{pending.name}' has no value")
        return Action(kind=spec.idname, args=nest_args(flat), edit=spec.is_edit)

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        if not prefix:
            return [NO_EDIT_TOKEN, *self._op_tokens]
        if prefix[0] == NO_EDIT_TOKEN:
            return [EOS] if len(prefix) == 1 else []
        try:
            spec, _, last, pending, _ = self._parse(prefix)
        except InvalidAction:
            return []
        if pending is not None:
            return self.allowed_values(pending)
        props = self.tokenized_properties(spec)
        return [EOS, *(f"p:{prop.name}" for prop in props[last + 1 :])]

    def grammar_key(self, prefix: Sequence[str]) -> Hashable:
        """What ``allowed_next`` depends on: the operator, the last property written and the one whose
        value is being read; never the values themselves, so beams that differ only in values share
        one cached mask."""
        if not prefix:
            return ()
        if prefix[0] == NO_EDIT_TOKEN:
            return (NO_EDIT_TOKEN, len(prefix) == 1)
        spec = self._op_tokens.get(prefix[0])
        if spec is None:
            return ("dead",)
        props = self.tokenized_properties(spec)
        last, pending, count = -1, None, 0
        for token in prefix[1:]:
            if pending is None:
                index = self._property_index(spec).get(token)
                if index is None or index <= last:
                    return ("dead",)
                last, pending, count = index, props[index], 0
                continue
            if token not in self._value_set(pending):
                return ("dead",)
            count += 1
            if count == max(1, pending.length):
                pending = None
        return (spec.idname, last, None if pending is None else pending.name)

    def _property_index(self, spec: OperatorSpec) -> dict[str, int]:
        index = self._property_indexes.get(spec.idname)
        if index is None:
            index = {f"p:{prop.name}": position for position, prop in enumerate(self.tokenized_properties(spec))}
            self._property_indexes[spec.idname] = index
        return index

    def _value_set(self, prop: PropertySpec) -> frozenset[str]:
        tokens = self.allowed_values(prop)
        found = self._value_sets.get(id(tokens))
        if found is None:
            found = self._value_sets[id(tokens)] = frozenset(tokens)
        return found

    def non_edit_start_tokens(self) -> frozenset[str]:
        """Operators that are not edits, so decoding never writes one as a suggestion: views, selections,
        undo, and calls that reach outside the scene or bake to disk (``OperatorSpec.is_edit``)."""
        if self._non_edit_starts is None:
            self._non_edit_starts = frozenset(token for token, spec in self._op_tokens.items() if not spec.is_edit)
        return self._non_edit_starts

    def validate(self, action: Action) -> Action:
        """``action`` as a suggestion writes it; InvalidAction for a call NEP never suggests, one that reaches
        outside the scene or bakes to disk (``bpy_calls.outside_reason``), so the server drops it whatever
        the predictor. The history still writes such calls (``encode``): a user may really have saved."""
        if not action.is_no_edit:
            reason = outside_reason(action.kind, action.args)
            if reason:
                raise InvalidAction(f"{reason}; NEP never suggests it")
        return super().validate(action)

    def location(self, action: Action) -> Hashable:
        """The operator's module (``mesh``, ``object``, ``transform``...): where in Blender's toolset it acts."""
        return action.kind.partition(".")[0]

    def is_edit_kind(self, kind: str) -> bool:
        return self.operator(kind).is_edit

    def describe(self, action: Action) -> str:
        """``Add Cube (size 0.5, location 0, 0, 1)``: the operator's name and its non-default settings."""
        if action.is_no_edit:
            return "no edit"
        spec = self.registry.get(action.kind)
        if spec is None:
            return action.kind
        try:
            written = self.decode(self.encode(action))
        except InvalidAction:
            return spec.label
        parts = []
        for name, value in flatten_args(dict(written.args)).items():
            prop = spec.property(name)
            shown = [value] if not isinstance(value, list) else value
            if prop is not None and prop.is_angle:
                shown = [f"{math.degrees(item):g}°" for item in shown]
            else:
                shown = [f"{item:g}" if _is_number(item) else str(item) for item in shown]
            parts.append(f"{name.rpartition('.')[2]} {', '.join(shown)}")
        return spec.label + (f" ({'; '.join(parts)})" if parts else "")

    def kinds(self) -> Iterable[str]:
        return self.registry.operators.keys()
