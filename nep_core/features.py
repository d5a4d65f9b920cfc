"""Examples to token ids: ``<bos> context <sep>`` as the prompt and ``action <eos>`` as the target
(``location <eos>``, the action's location prefix, for a location model)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from nep_core.action_space import BOS, EOS, SEP, UNK
from nep_core.actions import Action
from nep_core.errors import a_value_of
from nep_core.location_space import LocationSpace
from nep_core.plugins import fault
from nep_core.session import Context

if TYPE_CHECKING:
    from nep_core.domain import Domain

TARGETS = ("action", "location")
"""What a model learns to write after the prompt: the whole action, or only where it goes
(``ActionSpace.location_length``; a location model for two-stage prediction)."""


@dataclass
class Featurizer:
    """Turns contexts and actions into token ids with one domain's encoder, action space and tokenizer;
    ``target`` is one of ``TARGETS``."""

    domain: Domain
    tokenizer: object
    max_context_tokens: int | None = None
    target: str = "action"
    count_problems: bool = False
    """Count the tokens written that the tokenizer does not have in ``unlisted``, and the contexts
    written longer than the encoder's ``max_tokens`` in ``overlong`` (training does; the server does
    not, so a long-running process keeps no growing table)."""
    unlisted: Counter = field(default_factory=Counter, init=False, repr=False)
    """Tokens written that the tokenizer does not have (read as ``<unk>``): a ``vocabulary()`` that
    leaves out a token its encoder or action space writes, or a checkpoint older than the plugin."""
    overlong: Counter = field(default_factory=Counter, init=False, repr=False)
    """``contexts``, ``overlong`` (written in more than the encoder's ``max_tokens``: a ``state_tokens``
    longer than that leaves no room for the history), ``longest`` and ``cut`` (to ``max_context_tokens``)."""

    def __post_init__(self) -> None:
        self._vocab: dict[str, int] = self.tokenizer.get_vocab()
        self._unk = self.tokenizer.unk_token_id
        self.id_to_token = {index: token for token, index in self._vocab.items()}
        self.bos_id = self._vocab[BOS]
        self.sep_id = self._vocab[SEP]
        self.eos_id = self._vocab[EOS]
        self.domain.action_space.bind_tokenizer(self.tokenizer)
        self.domain.encoder.bind_tokenizer(self.tokenizer)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        vocab, unk = self._vocab, self._unk
        ids = [vocab.get(token, unk) for token in tokens]
        if self.count_problems and unk in ids:
            self.unlisted.update(token for token, index in zip(tokens, ids) if index == unk and token != UNK)
        return ids

    def unlisted_warning(self) -> str | None:
        """One line naming the tokens written that the tokenizer lacks, else None."""
        if not self.unlisted:
            return None
        common = ", ".join(repr(token) for token, _ in self.unlisted.most_common(3))
        written = f"{sum(self.unlisted.values())} token(s) written by the domain's encoder or action space"
        if self.domain.tokenizer_factory is not None:  # the factory's tokenizer, not vocabulary(), lacks them
            return (f"{written} are not in the tokenizer its tokenizer_factory made, and were read as <unk> (commonest: {common}); "
                    f"the factory's tokenizer must hold every token they write")
        return f"{written} are not in its vocabulary() and were read as <unk> (commonest: {common}); list every token they write in vocabulary()"

    def _count_length(self, length: int) -> None:
        budget = getattr(self.domain.encoder, "max_tokens", None)
        self.overlong["contexts"] += 1
        if isinstance(budget, int) and length > budget:
            self.overlong["overlong"] += 1
            self.overlong["longest"] = max(self.overlong["longest"], length)
            self.overlong["cut"] += int(self.max_context_tokens is not None and length > self.max_context_tokens)

    def overlong_warning(self) -> str | None:
        """One line saying how many contexts the encoder wrote longer than its ``max_tokens``, else None."""
        counts = self.overlong
        if not counts["overlong"]:
            return None
        encoder = self.domain.encoder
        cut = (f"; {counts['cut']} of them were cut to the model's newest {self.max_context_tokens} context tokens"
               if counts["cut"] else "")
        return (f"the domain's {type(encoder).__name__} wrote {counts['overlong']} of {counts['contexts']} contexts in more than its "
                f"max_tokens ({encoder.max_tokens}; up to {counts['longest']} tokens){cut}: an ActionHistoryEncoder does when "
                f"state_tokens alone is longer than max_tokens, and then writes none of the history; write a shorter state or raise max_tokens")

    def prompt_ids(self, context: Context) -> list[int]:
        tokens = self.domain.encoder.encode(context)
        if not isinstance(tokens, (list, tuple)) or not all(isinstance(token, str) for token in tokens):
            raise fault(self.domain.encoder, "encode", f"returned {_not_tokens(tokens)}, not a list of token strings")
        limit = self.max_context_tokens
        if self.count_problems:
            self._count_length(len(tokens))
        if limit is not None and len(tokens) > limit:
            tokens = tokens[len(tokens) - limit :]
        return [self.bos_id, *self.ids(tokens), self.sep_id]

    def target_ids(self, action: Action, context: Context | None = None) -> list[int]:
        """``action <eos>`` (its location prefix for the ``location`` target); with ``context``, written
        by the action space as it applies there."""
        space = self.domain.action_space if context is None else self.domain.action_space.for_context(context)
        if self.target == "location":
            space = LocationSpace(space)
        return [*self.ids(space.encode(action)), self.eos_id]

    def tokens(self, ids: Sequence[int]) -> list[str]:
        return [self.id_to_token[index] for index in ids]


def _not_tokens(tokens: object) -> str:
    """What an encoder returned instead of a list of token strings, for the one-line error."""
    if not isinstance(tokens, (list, tuple)):
        return a_value_of(tokens)
    wrong = next(token for token in tokens if not isinstance(token, str))
    return f"a list holding {a_value_of(wrong)} ({wrong!r:.40})"
