"""The action space's grammar as token-id masks, computed once per token prefix.

``ActionSpace.allowed_next(prefix)`` speaks token strings; decoding needs, for each prefix, the
allowed token ids and an additive logit bias (0 where allowed, -inf elsewhere). ``GrammarMasks``
converts once and keeps the result in a bounded LRU table keyed by ``ActionSpace.grammar_key(prefix)``
(by default the space object and the prefix, so that a view ``for_context`` bound to one context is never
served another's masks; spaces whose views share a grammar key it by what that grammar depends on).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Collection, Sequence

import torch

from nep_core.action_space import EOS, ActionSpace
from nep_core.errors import a_value_of
from nep_core.memo import BoundedMemo


ROWS_ENTRIES = 256
"""Combinations of steps whose restricted biases ``GrammarMasks.rows`` keeps."""

SHARED_STEP_TOKENS = 512
"""Steps allowing at most this many tokens are also found by their tokens (``GrammarMasks._by_tokens``):
other contexts' prefixes often allow the same few hundred, and larger sets are rarely shared."""


def _contract_broken(space: ActionSpace, prefix: tuple[str, ...], allowed: object) -> Exception:
    """The one-line error for an ``allowed_next`` that returned no collection of tokens, naming the plugin's
    space (inside a core wrapper such as ``LocationSpace``, the space it wraps)."""
    from nep_core.plugins import fault

    while type(space).__module__.startswith("nep_core.") and isinstance(getattr(space, "space", None), ActionSpace):
        space = space.space
    shown = a_value_of(allowed)
    return fault(space, "allowed_next", f"returned {shown} for the prefix {list(prefix)}, not a collection of tokens")


class GrammarStep:
    """What the grammar allows after one prefix, in token ids; ``bias`` (0 where allowed, -inf
    elsewhere, over the vocabulary) is made when first asked for: the search looks at the ids of
    many prefixes it never continues."""

    __slots__ = ("ids", "only_eos", "_vocab_size", "_device", "_bias", "_ids_tensor")

    def __init__(self, ids: tuple[int, ...], only_eos: bool, vocab_size: int, device: torch.device):
        self.ids = ids
        self.only_eos = only_eos
        self._vocab_size = vocab_size
        self._device = device
        self._bias: torch.Tensor | None = None
        self._ids_tensor: torch.Tensor | None = None

    @property
    def is_dead_end(self) -> bool:
        return not self.ids

    @property
    def bias(self) -> torch.Tensor:
        if self._bias is None:
            bias = torch.full((self._vocab_size,), float("-inf"), device=self._device)
            if self.ids:
                bias[torch.tensor(self.ids, device=self._device)] = 0.0
            self._bias = bias
        return self._bias

    @property
    def ids_tensor(self) -> torch.Tensor:
        """``ids`` as a tensor (int64), made when first asked for."""
        if self._ids_tensor is None:
            self._ids_tensor = torch.tensor(self.ids, dtype=torch.long, device=self._device)
        return self._ids_tensor


@dataclass(frozen=True, eq=False)
class Columns:
    """The token ids a decoding step computes logits for: ``ids``, the concatenation of ``parts``. A part is
    one grammar step's ids, each distinct step of the rows once (so an id may be in several parts, and each
    row's bias allows only its own step's part), or the union of the steps' ids as one part. A step's ids
    come back request after request, so the model's output rows for them can be kept per part."""

    ids: torch.Tensor
    parts: tuple[torch.Tensor, ...]


class GrammarMasks:
    """Allowed next token ids and logit biases per prefix, for one action space and one vocabulary.

    Tokens the grammar allows but the tokenizer does not know are left out (they cannot be generated).
    Kinds that are not edits are left out at the first position, so only edits and NO_EDIT come out.
    """

    def __init__(
        self,
        action_space: ActionSpace,
        vocab: dict[str, int],
        vocab_size: int,
        device: torch.device | str = "cpu",
        max_entries: int = 8192,
    ):
        self.action_space = action_space
        self.vocab = vocab
        self.vocab_size = vocab_size
        self.device = torch.device(device)
        self.max_entries = max_entries
        self.eos_id = vocab[EOS]
        self.excluded_first = action_space.non_edit_start_tokens()
        self.unknown_tokens: set[str] = set()
        self._table: OrderedDict[tuple[str, ...], GrammarStep] = OrderedDict()
        self._by_tokens: dict[tuple[bool, tuple[str, ...]], GrammarStep] = {}
        """Steps by their allowed tokens: prefixes of other contexts (other grammar keys) often allow the same."""
        self._rows: OrderedDict[tuple, tuple[tuple[GrammarStep, ...], torch.Tensor, Columns | None]] = OrderedDict()
        self._by_prefix: BoundedMemo[GrammarStep] = BoundedMemo(max_entries)
        """Steps by prefix, for the masks' own action space (a view ``for_context`` returns may differ)."""

    def step(self, prefix: Sequence[str], space: ActionSpace | None = None) -> GrammarStep:
        """The grammar step after ``prefix`` (cached by ``space.grammar_key``); ``space`` defaults to the
        masks' action space (pass the view ``for_context`` returned while decoding in a context)."""
        space = space or self.action_space
        prefix = tuple(prefix)
        if space is self.action_space:  # the search asks for the same prefixes request after request
            return self._by_prefix.get(prefix, lambda: self._keyed_step(prefix, space))
        return self._keyed_step(prefix, space)

    def _keyed_step(self, prefix: tuple[str, ...], space: ActionSpace) -> GrammarStep:
        key = space.grammar_key(prefix)
        entry = self._table.get(key)
        if entry is not None:
            self._table.move_to_end(key)
            return entry
        allowed = space.allowed_next(prefix)
        if allowed is None or isinstance(allowed, (str, bytes)) or not (hasattr(allowed, "__len__") and hasattr(allowed, "__iter__")):
            raise _contract_broken(space, prefix, allowed)
        if len(allowed) > SHARED_STEP_TOKENS:
            entry = self._build(prefix, allowed)
        else:
            same_tokens = (not prefix, tuple(allowed))
            entry = self._by_tokens.get(same_tokens)
            if entry is None:
                entry = self._by_tokens[same_tokens] = self._build(prefix, allowed)
                if len(self._by_tokens) > self.max_entries:
                    self._by_tokens.pop(next(iter(self._by_tokens)))
        self._table[key] = entry
        if len(self._table) > self.max_entries:
            self._table.popitem(last=False)
        return entry

    def _build(self, prefix: tuple[str, ...], allowed: Collection[str]) -> GrammarStep:
        ids: list[int] = []
        for token in allowed:
            if not prefix and token in self.excluded_first:
                continue
            index = self.vocab.get(token)
            if index is None or index >= self.vocab_size:
                self.unknown_tokens.add(token)
                continue
            ids.append(index)
        ids = sorted(set(ids))
        return GrammarStep(tuple(ids), ids == [self.eos_id], self.vocab_size, self.device)

    def biases(self, prefixes: Sequence[Sequence[str]], space: ActionSpace | None = None) -> torch.Tensor:
        """A (len(prefixes), vocab_size) additive bias, one row per prefix."""
        return torch.stack([self.step(prefix, space).bias for prefix in prefixes])

    def rows(self, steps: Sequence[GrammarStep], restrict: bool = True) -> tuple[torch.Tensor, Columns | None]:
        """For hypotheses at ``steps``: their biases over the ``Columns`` the next forward computes, and
        those columns: each distinct step's ids as a part, or when those add up to more than half the
        vocabulary the union of them; None and biases over the whole vocabulary when ``restrict`` is False
        or even the union is more than half of it (then computing every logit costs no more). Remembered
        for the ``ROWS_ENTRIES`` latest combinations of steps: a search meets the same ones request after
        request."""
        key = (restrict, *map(id, steps))
        entry = self._rows.get(key)
        if entry is not None and all(kept is step for kept, step in zip(entry[0], steps)):
            self._rows.move_to_end(key)
            return entry[1], entry[2]
        bias, columns = self._by_parts(steps) if restrict else (None, None)
        if bias is None:
            bias = torch.stack([step.bias for step in steps])
            if restrict:
                allowed = torch.zeros(self.vocab_size, dtype=torch.bool, device=self.device)
                for step in steps:
                    allowed[step.ids_tensor] = True
                allowed = allowed.nonzero().squeeze(1)
                if 2 * allowed.numel() <= self.vocab_size:
                    columns = Columns(allowed, (allowed,))
                    bias = bias.index_select(1, allowed)
        self._rows[key] = (tuple(steps), bias, columns)  # the steps themselves: their ids stay theirs
        if len(self._rows) > ROWS_ENTRIES:
            self._rows.popitem(last=False)
        return bias, columns

    def _by_parts(self, steps: Sequence[GrammarStep]) -> tuple[torch.Tensor | None, Columns | None]:
        """Columns of one part per distinct step, each row's bias 0 on its own step's part and -inf
        elsewhere (a step allows all its ids); (None, None) when the parts add up to more than half the vocabulary."""
        distinct = list(dict.fromkeys(steps))
        sizes = [len(step.ids) for step in distinct]
        if 2 * sum(sizes) > self.vocab_size:
            return None, None
        parts = tuple(step.ids_tensor for step in distinct)
        columns = Columns(parts[0] if len(parts) == 1 else torch.cat(parts), parts)
        bias = torch.full((len(steps), sum(sizes)), float("-inf"), device=self.device)
        starts = dict(zip(distinct, itertools.accumulate(sizes, initial=0)))
        for row, step in enumerate(steps):
            bias[row, starts[step] : starts[step] + len(step.ids)] = 0.0
        return bias, columns
