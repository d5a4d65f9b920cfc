"""Action spaces: actions to tokens and back, with a grammar for constrained decoding.

Every generated token sequence that the grammar allows decodes to a valid action or NO_EDIT.
``SymbolicActionSpace`` builds all of that from a declarative list of ``KindSpec``.
"""

from __future__ import annotations

import functools
import itertools
import json
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Collection, Hashable, Sequence

from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction

PAD, UNK, BOS, SEP, EOS = "<pad>", "<unk>", "<bos>", "<sep>", "<eos>"
NO_EDIT_TOKEN = "<no_edit>"
SPECIAL_TOKENS = (PAD, UNK, BOS, SEP, EOS, NO_EDIT_TOKEN)


_INSTANCE_KEYS: dict[int, tuple[weakref.ref, int]] = {}
_next_instance_key = itertools.count(1)


def instance_key(obj: Any) -> Hashable:
    """A number for ``obj`` itself, never given to another object: not ``id(obj)``, which a new object
    gets again once ``obj`` is collected (a cache keyed by it would serve the new one the old one's entries)."""
    entry = _INSTANCE_KEYS.get(id(obj))
    if entry is not None and entry[0]() is obj:
        return entry[1]
    try:
        reference = weakref.ref(obj, functools.partial(_forget_instance, id(obj)))
    except TypeError:  # no weak references to it (``__slots__``): a key of its own each time, never shared
        return object()
    number = next(_next_instance_key)
    _INSTANCE_KEYS[id(obj)] = (reference, number)
    return number


def _forget_instance(address: int, reference: weakref.ref) -> None:
    entry = _INSTANCE_KEYS.get(address)
    if entry is not None and entry[0] is reference:
        del _INSTANCE_KEYS[address]


class ActionSpace(ABC):
    """Maps actions to token strings and back, and says which tokens may come next."""

    name: str = "actions"
    version: str = "1"

    @abstractmethod
    def vocabulary(self) -> list[str]:
        """Every token an action can be written with (special tokens excluded)."""

    @abstractmethod
    def encode(self, action: Action) -> list[str]:
        """The tokens of ``action`` without the closing EOS; NO_EDIT is ``[NO_EDIT_TOKEN]``. Raises InvalidAction."""

    @abstractmethod
    def decode(self, tokens: Sequence[str]) -> Action:
        """The action written by ``tokens`` (no EOS); raises InvalidAction."""

    @abstractmethod
    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        """Tokens that may follow ``prefix``; contains EOS exactly when ``prefix`` is a whole action."""

    def non_edit_start_tokens(self) -> frozenset[str]:
        """First tokens of kinds that are not edits (view, selection): decoding never suggests them."""
        return frozenset()

    def check_kind(self, kind: str) -> None:
        """Raise ``InvalidAction`` for a kind this space never has. Open spaces (the default) take any
        kind; a space with a closed set of kinds overrides this, so a server refuses the others."""

    def for_context(self, context: Any) -> ActionSpace:
        """This space as it applies in ``context``. The default is the space itself; a space whose tokens
        are relative to the state (lines of a code excerpt) returns a view bound to that context."""
        return self

    def grammar_key(self, prefix: Sequence[str]) -> Hashable:
        """A key such that prefixes with equal keys allow the same next tokens, in this space and in every
        other view of it that ``for_context`` returns (grammar masks are cached by it, across requests).
        The default is this space object itself with the prefix: a view bound to a context gets masks of
        its own, never another context's (a view made again for the next request computes them again).
        Override it to share masks between views that allow the same tokens (a key of what the view's
        grammar depends on), or between many prefixes (open-ended text)."""
        return (instance_key(self), tuple(prefix))

    def bind_tokenizer(self, tokenizer: Any) -> None:
        """Called with the model's tokenizer before featurizing; spaces that write text with it override."""

    def location(self, action: Action) -> Hashable:
        """The action's place in the location sub-space (used for jump / no-jump and location accuracy)."""
        return json.dumps(action.target, sort_keys=True)

    def location_length(self, tokens: Sequence[str]) -> int:
        """How many leading tokens of ``tokens`` (an encoded action, or the start of one) say where the
        action goes: what a location model (``nep train --target location``) writes. For the start of an
        action it is at most ``len(tokens)`` and stays the same once tokens past the location follow.
        The default is the first token (the kind, or NO_EDIT)."""
        return min(1, len(tokens))

    def validate(self, action: Action) -> Action:
        """The action as this space represents it (quantized); raises InvalidAction when it has no place here."""
        if action.is_no_edit:
            return NO_EDIT
        return self.decode(self.encode(action))

    def describe(self, action: Action) -> str:
        """A short human label, e.g. ``extrude (offset=0.2)``."""
        if action.is_no_edit:
            return "no edit"
        parts = [f"{key}={value}" for key, value in action.args.items()]
        where = "" if action.target is None else f" @ {action.target}"
        return f"{action.kind}{where}" + (f" ({', '.join(parts)})" if parts else "")


@dataclass(frozen=True)
class Slot:
    """One field of an action written as one token: ``target``, or an argument name.

    ``values`` is the finite set of JSON values the field can take. Numbers snap to the nearest value
    (the quantization), other values must match exactly. ``default`` fills a missing argument.
    """

    name: str
    values: tuple[Any, ...]
    default: Any = None

    @classmethod
    def choice(cls, name: str, values: Sequence[Any], default: Any = None) -> Slot:
        return cls(name, tuple(values), default)

    @classmethod
    def number(cls, name: str, low: float, high: float, step: float, default: Any = None) -> Slot:
        """A number quantized to a uniform grid from ``low`` to ``high``; round-trip error at most step/2."""
        count = int(round((high - low) / step)) + 1
        grid = tuple(round(low + index * step, 10) for index in range(count))
        if all(float(value).is_integer() and float(step).is_integer() for value in grid):
            grid = tuple(int(value) for value in grid)
        return cls(name, grid, default)

    @property
    def is_numeric(self) -> bool:
        return all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in self.values)

    def token(self, value: Any) -> str:
        return f"{self.name}={json.dumps(value, sort_keys=True, separators=(',', ':'))}"

    def tokens(self) -> list[str]:
        return [self.token(value) for value in self.values]

    def snap(self, value: Any) -> Any:
        """The slot value that represents ``value``; raises InvalidAction when there is none."""
        if self.is_numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = min(self.values), max(self.values)
            if value < low - 1e-9 or value > high + 1e-9:
                raise InvalidAction(f"{self.name}={value} is outside [{low}, {high}]")
            return min(self.values, key=lambda candidate: abs(candidate - value))
        for candidate in self.values:
            if candidate == value and type(candidate) is type(value):
                return candidate
        raise InvalidAction(f"{self.name}={json.dumps(value)} is not one of this action's values")


@dataclass(frozen=True)
class KindSpec:
    """One kind of action: its name, its slots in writing order, and whether it is an edit."""

    kind: str
    slots: tuple[Slot, ...] = ()
    edit: bool = True
    description: str = ""

    def __init__(self, kind: str, slots: Sequence[Slot] = (), edit: bool = True, description: str = ""):
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "slots", tuple(slots))
        object.__setattr__(self, "edit", edit)
        object.__setattr__(self, "description", description)

    @property
    def token(self) -> str:
        return f"@{self.kind}"


@dataclass
class SymbolicActionSpace(ActionSpace):
    """An action space declared as kinds with finite slots: ``@kind slot=value ... <eos>``."""

    kinds: Sequence[KindSpec]
    name: str = "actions"
    version: str = "1"
    _by_kind: dict[str, KindSpec] = field(init=False, repr=False)
    _by_token: dict[str, KindSpec] = field(init=False, repr=False)
    _slot_values: dict[tuple[str, int], dict[str, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_kind = {}
        for spec in self.kinds:
            if spec.kind in self._by_kind:
                raise ValueError(f"kind '{spec.kind}' is declared twice in action space '{self.name}'")
            self._by_kind[spec.kind] = spec
        self._by_token = {spec.token: spec for spec in self.kinds}
        self._slot_values = {
            (spec.kind, index): {slot.token(value): value for value in slot.values}
            for spec in self.kinds
            for index, slot in enumerate(spec.slots)
        }

    def check_kind(self, kind: str) -> None:
        self.spec(kind)

    def spec(self, kind: str) -> KindSpec:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise InvalidAction(f"unknown action kind '{kind}'") from None

    def vocabulary(self) -> list[str]:
        seen: dict[str, None] = {}
        for spec in self.kinds:
            seen[spec.token] = None
            for slot in spec.slots:
                for token in slot.tokens():
                    seen[token] = None
        return list(seen)

    def encode(self, action: Action) -> list[str]:
        if action.is_no_edit:
            return [NO_EDIT_TOKEN]
        spec = self.spec(action.kind)
        tokens = [spec.token]
        for slot in spec.slots:
            if slot.name == "target":
                value = action.target
            elif slot.name in action.args:
                value = action.args[slot.name]
            elif slot.default is not None:
                value = slot.default
            else:
                raise InvalidAction(f"{action.kind}: missing argument '{slot.name}'")
            tokens.append(slot.token(slot.snap(value)))
        known = {slot.name for slot in spec.slots}
        unknown = sorted(set(action.args) - known)
        if unknown:
            raise InvalidAction(f"{action.kind}: unknown argument '{unknown[0]}'")
        return tokens

    def decode(self, tokens: Sequence[str]) -> Action:
        if list(tokens) == [NO_EDIT_TOKEN]:
            return NO_EDIT
        if not tokens or tokens[0] not in self._by_token:
            raise InvalidAction(f"not an action: {' '.join(tokens) or '(empty)'}")
        spec = self._by_token[tokens[0]]
        if len(tokens) != len(spec.slots) + 1:
            raise InvalidAction(f"{spec.kind}: expected {len(spec.slots)} slot tokens, got {len(tokens) - 1}")
        target, args = None, {}
        for index, (slot, token) in enumerate(zip(spec.slots, tokens[1:])):
            values = self._slot_values[(spec.kind, index)]
            if token not in values:
                raise InvalidAction(f"{spec.kind}: '{token}' is not a value of slot '{slot.name}'")
            if slot.name == "target":
                target = values[token]
            else:
                args[slot.name] = values[token]
        return Action(kind=spec.kind, target=target, args=args, edit=spec.edit)

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        if not prefix:
            return [NO_EDIT_TOKEN, *self._by_token]
        if prefix[0] == NO_EDIT_TOKEN:
            return [EOS] if len(prefix) == 1 else []
        spec = self._by_token.get(prefix[0])
        if spec is None:
            return []
        position = len(prefix) - 1
        if position == len(spec.slots):
            return [EOS]
        if position > len(spec.slots):
            return []
        return list(self._slot_values[(spec.kind, position)])

    def is_edit_kind(self, kind: str) -> bool:
        return self.spec(kind).edit

    def non_edit_start_tokens(self) -> frozenset[str]:
        return frozenset(spec.token for spec in self.kinds if not spec.edit)
