"""An action space's grammar split at the location: what a location model writes, and what may follow a given location.

``ActionSpace.location_length`` says how many leading tokens of an action say where it goes. A location model
(``nep train --target location``) learns those tokens, then EOS; ``LocationSpace`` is its grammar and writes
each location it decodes as a ``location`` action whose target is the tokens. ``AfterLocation`` is the
grammar of an ordinary model made to continue a given location: after the location's last token, only
tokens that do not lengthen it (the rest of the action, or EOS).
"""

from __future__ import annotations

from typing import Any, Collection, Hashable, Sequence

from nep_core.action_space import EOS, NO_EDIT_TOKEN, ActionSpace
from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction

LOCATION_KIND = "location"
"""The kind of the actions ``LocationSpace`` decodes: a location, not an edit that can be applied."""


def location_action(tokens: Sequence[str]) -> Action:
    """A decoded location: its tokens, as the target of a ``location`` action."""
    return Action(kind=LOCATION_KIND, target=list(tokens))


def location_tokens(action: Action) -> tuple[str, ...]:
    """The tokens of a location ``location_action`` made."""
    if action.kind != LOCATION_KIND:
        raise InvalidAction(f"not a location: {action.kind}")
    return tuple(action.target)


class _Wrapper(ActionSpace):
    """An action space that answers like ``space`` except where a subclass says otherwise."""

    def __init__(self, space: ActionSpace):
        self.space = space
        self.name = space.name
        self.version = space.version

    def vocabulary(self) -> list[str]:
        return self.space.vocabulary()

    def encode(self, action: Action) -> list[str]:
        return self.space.encode(action)

    def decode(self, tokens: Sequence[str]) -> Action:
        return self.space.decode(tokens)

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        return self.space.allowed_next(prefix)

    def grammar_key(self, prefix: Sequence[str]) -> Hashable:
        return self.space.grammar_key(prefix)

    def non_edit_start_tokens(self) -> frozenset[str]:
        return self.space.non_edit_start_tokens()

    def bind_tokenizer(self, tokenizer: Any) -> None:
        self.space.bind_tokenizer(tokenizer)

    def location(self, action: Action) -> Hashable:
        return self.space.location(action)

    def location_length(self, tokens: Sequence[str]) -> int:
        return self.space.location_length(tokens)

    def validate(self, action: Action) -> Action:
        return self.space.validate(action)

    def describe(self, action: Action) -> str:
        return self.space.describe(action)


class LocationSpace(_Wrapper):
    """The grammar of a location model: an action's location prefix, then EOS (NO_EDIT as itself)."""

    def for_context(self, context: Any) -> LocationSpace:
        return LocationSpace(self.space.for_context(context))

    def encode(self, action: Action) -> list[str]:
        if action.kind == LOCATION_KIND:
            return list(location_tokens(action))
        tokens = self.space.encode(action)
        return tokens[: self.space.location_length(tokens)]

    def decode(self, tokens: Sequence[str]) -> Action:
        tokens = list(tokens)
        if tokens == [NO_EDIT_TOKEN]:
            return NO_EDIT
        if not tokens or EOS not in self.allowed_next(tokens):
            raise InvalidAction(f"not a whole location: {' '.join(tokens) or '(empty)'}")
        return location_action(tokens)

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        prefix = tuple(prefix)
        if self.space.location_length(prefix) < len(prefix):
            return []
        allowed, ends = [], False
        for token in self.space.allowed_next(prefix):
            if token == EOS or self.space.location_length((*prefix, token)) <= len(prefix):
                ends = True  # the action may end here, or what follows is no longer its location
            else:
                allowed.append(token)
        return [*allowed, EOS] if ends else allowed

    def grammar_key(self, prefix: Sequence[str]) -> Hashable:
        return (LocationSpace, self.space.grammar_key(prefix), tuple(prefix))

    def validate(self, action: Action) -> Action:
        return self.decode(self.encode(action))

    def describe(self, action: Action) -> str:
        if action.kind == LOCATION_KIND:
            return f"location {' '.join(location_tokens(action))}"
        return self.space.describe(action)


class AfterLocation(_Wrapper):
    """``space`` continuing a location of ``length`` tokens: right after it, only tokens that keep the
    location as it is (so a jump to line 4 cannot become one to line 42); elsewhere ``space`` itself."""

    def __init__(self, space: ActionSpace, length: int):
        super().__init__(space)
        self.length = length

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        allowed = self.space.allowed_next(prefix)
        if len(prefix) != self.length:
            return allowed
        prefix = tuple(prefix)
        return [token for token in allowed if token == EOS or self.space.location_length((*prefix, token)) <= self.length]

    def grammar_key(self, prefix: Sequence[str]) -> Hashable:
        key = self.space.grammar_key(prefix)
        return (AfterLocation, key, tuple(prefix)) if len(prefix) == self.length else key
