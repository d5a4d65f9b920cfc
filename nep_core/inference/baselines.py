"""Baselines behind the ``Predictor`` interface: repeat-last, most-frequent and an n-gram with backoff.

Each is fitted on training examples (``fit(examples)``) and returns the same ``Prediction`` as the model:
top-k edit suggestions with probabilities, and P(NO_EDIT). Actions are compared by their canonical
form in the domain's action space (quantized), so a baseline's suggestion equals the model's output
for the same action.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Sequence

from nep_core.action_space import ActionSpace
from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction, NepError
from nep_core.inference.predictor import Prediction, Predictor, Suggestion
from nep_core.session import Context

if TYPE_CHECKING:
    from nep_core.domain import Domain
    from nep_core.examples import Example

START = "<s>"
"""The n-gram's padding before the first action of a session."""


def canonical_action(action: Action, action_space: ActionSpace) -> Action:
    """``action`` as the action space writes it (quantized, without app context); unchanged when it has no place there."""
    if action.is_no_edit:
        return NO_EDIT
    try:
        return action_space.validate(action)
    except InvalidAction:
        return Action(kind=action.kind, target=action.target, args=action.args, edit=action.edit)


class BaselinePredictor(Predictor):
    """A predictor fitted on training examples; subclasses give the target distribution for a context."""

    def __init__(self, domain: Domain):
        self.domain = domain
        self.fitted = False

    def fit(self, examples: Sequence[Example]) -> BaselinePredictor:
        """Learn from training examples; returns self. An empty training set is a user error."""
        if not examples:
            raise NepError(f"{self.name}: no training examples to fit on; pass more sessions with --data")
        self._fit(examples)
        self.fitted = True
        return self

    def predict(self, context: Context, k: int = 3) -> Prediction:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not self.fitted:
            raise RuntimeError(f"{self.name}: call fit(train_examples) before predict")
        started = time.perf_counter()
        edits, p_no_edit = self._distribution(context, k)
        suggestions = [Suggestion(action, probability, self.domain.action_space.describe(action)) for action, probability in edits[:k]]
        return Prediction(suggestions, p_no_edit, (time.perf_counter() - started) * 1000.0)

    def input_key(self, context: Context) -> tuple[()]:
        """The same for every context: the baselines read the actions, never the events' times."""
        return ()

    quick_input_key = input_key

    def prompt_key(self, context: Context) -> tuple:
        """The history's actions as suggestions write them: the baselines read no context, state or time."""
        return tuple((action.key(), action.edit) for action in context.actions())

    def canonical(self, action: Action) -> Action:
        return canonical_action(action, self.domain.action_space)

    @abstractmethod
    def _fit(self, examples: Sequence[Example]) -> None:
        """Learn counts from ``examples`` (never empty)."""

    @abstractmethod
    def _distribution(self, context: Context, k: int) -> tuple[list[tuple[Action, float]], float]:
        """At least the ``k`` most likely edits with probabilities (best first), and P(NO_EDIT)."""


class RepeatLast(BaselinePredictor):
    """Suggests the last edit of the history again.

    P(NO_EDIT) is the training share of NO_EDIT targets; the repeated edit gets the rest. With no edit
    in the history yet there is nothing to repeat: no suggestion and P(NO_EDIT) = 1.
    """

    name = "repeat-last"

    def _fit(self, examples: Sequence[Example]) -> None:
        self.no_edit_rate = sum(example.target.is_no_edit for example in examples) / len(examples)

    def _distribution(self, context: Context, k: int) -> tuple[list[tuple[Action, float]], float]:
        edits = context.edits()
        if not edits:
            return [], 1.0
        return [(self.canonical(edits[-1]), 1.0 - self.no_edit_rate)], self.no_edit_rate


class MostFrequent(BaselinePredictor):
    """Always the training targets' distribution: the most frequent edits, and NO_EDIT's share."""

    name = "most-frequent"

    def _fit(self, examples: Sequence[Example]) -> None:
        counts: Counter[str] = Counter()
        actions: dict[str, Action] = {}
        for example in examples:
            target = self.canonical(example.target)
            counts[target.key()] += 1
            actions.setdefault(target.key(), target)
        total = sum(counts.values())
        self.p_no_edit = counts.get(NO_EDIT.key(), 0) / total
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        self.edits = [(actions[key], count / total) for key, count in ranked if key != NO_EDIT.key()]

    def _distribution(self, context: Context, k: int) -> tuple[list[tuple[Action, float]], float]:
        return self.edits[:k], self.p_no_edit


MAX_NGRAM_ORDER = 16
"""The highest n-gram order: each example stores its history once per order below it, so memory grows
with the order squared (``ngram:99999`` needs tens of GB), and longer contexts are all but never seen twice."""


class NGram(BaselinePredictor):
    """The next target given the last ``order - 1`` actions of the history (edits and non-edits alike).

    Stupid backoff (Brants et al., 2007), then normalized: a target seen after the longest matching
    context scores its relative frequency there; each target first seen one order lower scores
    ``backoff`` times its relative frequency at that order, and so on down to the unigram. Dividing by
    the total makes the scores a distribution over all training targets, NO_EDIT included. Sessions
    start with ``<s>`` padding, so "the first actions of a session" is context too.
    """

    name = "ngram"

    def __init__(self, domain: Domain, order: int = 3, backoff: float = 0.4):
        super().__init__(domain)
        if not 1 <= order <= MAX_NGRAM_ORDER:
            raise NepError(f"n-gram order must be from 1 to {MAX_NGRAM_ORDER}, got {order}")
        if not 0.0 < backoff <= 1.0:
            raise NepError(f"n-gram backoff must be in (0, 1], got {backoff}")
        self.order = order
        self.backoff = backoff
        if order != 3:
            self.name = f"ngram:{order}"

    def history_keys(self, context: Context) -> tuple[str, ...]:
        """The last ``order - 1`` action keys of the history, padded with ``<s>`` at a session's start."""
        width = self.order - 1
        if width == 0:
            return ()
        keys = [self.canonical(action).key() for action in context.actions()[-width:]]
        return (START,) * (width - len(keys)) + tuple(keys)

    def _fit(self, examples: Sequence[Example]) -> None:
        # tables[n][context of n keys] counts the targets seen after that context
        self.tables: list[dict[tuple[str, ...], Counter[str]]] = [defaultdict(Counter) for _ in range(self.order)]
        self.actions: dict[str, Action] = {}
        for example in examples:
            target = self.canonical(example.target)
            key = target.key()
            self.actions.setdefault(key, target)
            history = self.history_keys(example.context)
            for n in range(self.order):
                self.tables[n][history[len(history) - n :] if n else ()][key] += 1
        unigram = self.tables[0][()]
        total = sum(unigram.values())
        self.unigram_frequency = {key: count / total for key, count in unigram.items()}
        self.unigram = sorted(self.unigram_frequency.items(), key=lambda item: (-item[1], item[0]))

    def scores(self, context: Context) -> tuple[dict[str, float], float, float]:
        """Backed-off scores of the targets seen after the matching contexts; the weight left for the
        unigram level; and the normalizer Z over all targets."""
        history = self.history_keys(context)
        scores: dict[str, float] = {}
        weight = 1.0
        for n in range(self.order - 1, 0, -1):
            table = self.tables[n].get(history[len(history) - n :])
            if not table:
                continue
            total = sum(table.values())
            for key, count in table.items():
                if key not in scores:
                    scores[key] = weight * count / total
            weight *= self.backoff
        assigned_unigram = sum(self.unigram_frequency[key] for key in scores)
        normalizer = sum(scores.values()) + weight * max(0.0, 1.0 - assigned_unigram)
        return scores, weight, normalizer

    def _distribution(self, context: Context, k: int) -> tuple[list[tuple[Action, float]], float]:
        scores, weight, normalizer = self.scores(context)
        probabilities = {key: score / normalizer for key, score in scores.items()}
        added = 0
        for key, frequency in self.unigram:
            if added >= k + 1:
                break
            if key not in probabilities:
                probabilities[key] = weight * frequency / normalizer
                added += 1
        p_no_edit = probabilities.pop(NO_EDIT.key(), None)
        if p_no_edit is None:  # NO_EDIT only at the unigram level, and not among the first few there
            p_no_edit = weight * self.unigram_frequency.get(NO_EDIT.key(), 0.0) / normalizer
        ranked = sorted(probabilities.items(), key=lambda item: (-item[1], item[0]))
        return [(self.actions[key], probability) for key, probability in ranked], p_no_edit
