"""The predictor interface shared by the model and the baselines."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Hashable

from nep_core.actions import Action
from nep_core.session import Context


@dataclass(frozen=True)
class Suggestion:
    """One candidate next action and the predictor's probability for it."""

    action: Action
    probability: float
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action.to_json(), "probability": round(self.probability, 6), "label": self.label}


@dataclass
class Prediction:
    """Top-k edit suggestions, best first, and the probability that the right answer is NO_EDIT.

    ``suggestions`` never contains NO_EDIT; ``best`` is NO_EDIT when ``p_no_edit`` beats every suggestion.
    """

    suggestions: list[Suggestion]
    p_no_edit: float
    latency_ms: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    kind_probability: float | None = None
    """When the predictor decided by kind: the probability that the next action is of the first
    suggestion's kind; ``best`` then weighs NO_EDIT against it instead of against that one action."""

    @property
    def best(self) -> Action:
        from nep_core.actions import NO_EDIT

        rival = self.suggestions[0].probability if self.suggestions else 0.0
        if self.kind_probability is not None and self.suggestions:
            rival = self.kind_probability
        if not self.suggestions or self.p_no_edit >= rival:
            return NO_EDIT
        return self.suggestions[0].action

    def confidence(self, suggestion: Suggestion) -> float:
        """What an app weighs against its minimum confidence: the probability of ``suggestion``'s kind
        of action when the predictor decided by kind (a stroke written in 25 tokens has a small
        probability even when a stroke surely comes next), else the suggestion's own probability."""
        return suggestion.probability if self.kind_probability is None else self.kind_probability

    def shown(self, min_confidence: float, min_probability: float = 0.0) -> Prediction:
        """This prediction as an app shows it: suggestions whose confidence is below ``min_confidence``,
        or whose own probability is below ``min_probability``, left out."""
        kept = [
            suggestion
            for suggestion in self.suggestions
            if self.confidence(suggestion) >= min_confidence and suggestion.probability >= min_probability
        ]
        return self if len(kept) == len(self.suggestions) else replace(self, suggestions=kept)

    def ranked(self) -> list[Action]:
        """All candidates including NO_EDIT, by probability."""
        from nep_core.actions import NO_EDIT

        items = [(suggestion.probability, suggestion.action) for suggestion in self.suggestions]
        items.append((self.p_no_edit, NO_EDIT))
        return [action for _, action in sorted(items, key=lambda item: -item[0])]

    def to_json(self) -> dict[str, Any]:
        return {
            "suggestions": [{**suggestion.to_json(), "confidence": round(self.confidence(suggestion), 6)} for suggestion in self.suggestions],
            "p_no_edit": round(self.p_no_edit, 6),
            "best_is_no_edit": self.best.is_no_edit,
            "latency_ms": round(self.latency_ms, 3),
        }


class Predictor(ABC):
    """``predict(context, k)`` for a trained model or a baseline."""

    name: str = ""

    @abstractmethod
    def predict(self, context: Context, k: int = 3) -> Prediction:
        """The top-``k`` edit suggestions for what follows ``context``, plus P(NO_EDIT)."""

    def predict_interruptible(self, context: Context, k: int, stop: Callable[[], bool]) -> Prediction | None:
        """``predict``, for background work: None when ``stop()`` turned true before it finished (a
        predictor that cannot stop early, like the baselines, which take microseconds, just predicts)."""
        return self.predict(context, k)

    def input_key(self, context: Context) -> Hashable | None:
        """What ``predict`` reads of ``context``, as a key: among contexts that differ only in their
        events' times, equal keys give equal predictions. None (the default): the predictor cannot say,
        so only identical contexts are known to give identical predictions."""
        return None

    def quick_input_key(self, context: Context) -> Hashable | None:
        """``input_key`` when it comes without waiting for a prediction in progress (the server asks on
        its event loop); None when it does not."""
        return None

    def prompt_key(self, context: Context) -> Hashable | None:
        """What ``predict`` reads of ``context``, as a key: equal keys give equal predictions, whatever
        else differs, given the same action space bound to the context (``ActionSpace.for_context``,
        which NEP's domains bind from args, history and state, never from an action's ``context``).
        None (the default): the predictor cannot say."""
        return None
