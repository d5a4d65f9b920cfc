"""Suggestions the server may show: the predictor's top-k, each checked by the domain before it goes out.

A suggestion survives only when the action space can write it (``validate``) and every serving
verifier of the domain (``Verifier.serving``) finds it valid in the request's context; the rest are
dropped and counted. The predictor
runs under a lock unless it declares ``thread_safe = True``; verifiers run under the same lock, so a
domain whose verifier drives a single-threaded app (bpy) stays safe.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from nep_core.actions import Action
from nep_core.domain import Domain
from nep_core.errors import InvalidAction
from nep_core.inference.predictor import Prediction, Predictor, Suggestion
from nep_core.session import Context

log = logging.getLogger("nep.server")


class SuggestionService:
    """``suggest(context, k)``: the predictor's answer with every unusable suggestion removed."""

    def __init__(self, domain: Domain, predictor: Predictor):
        self.domain = domain
        self.predictor = predictor
        self._lock = contextlib.nullcontext() if getattr(predictor, "thread_safe", False) else threading.Lock()

    def suggest(self, context: Context, k: int) -> tuple[Prediction, int]:
        """The checked prediction and how many suggestions were dropped."""
        with self._lock:
            prediction = self.predictor.predict(context, k)
            kept: list[Suggestion] = []
            for suggestion in prediction.suggestions[:k]:
                action = self.checked(context, suggestion.action)
                if action is not None:
                    label = suggestion.label or self.domain.action_space.describe(action)
                    kept.append(Suggestion(action=action, probability=suggestion.probability, label=label))
        dropped = min(len(prediction.suggestions), k) - len(kept)
        checked = Prediction(
            suggestions=kept,
            p_no_edit=prediction.p_no_edit,
            latency_ms=prediction.latency_ms,
            details=prediction.details,
            kind_probability=prediction.kind_probability,
        )
        return checked, dropped

    def checked(self, context: Context, action: Action) -> Action | None:
        """``action`` as the action space writes it, or None when it is NO_EDIT, unwritable or refused by a verifier."""
        if action.is_no_edit:
            return None
        try:
            action = self.domain.action_space.validate(action)
        except InvalidAction:
            return None
        for name, verifier in self.domain.verifiers.items():
            if not verifier.serving:
                continue
            try:
                verdict = verifier.verify(context, action)
            except Exception:  # a broken verifier refuses the suggestion rather than failing the request
                log.exception("verifier '%s' of domain '%s' failed", name, self.domain.name)
                return None
            if not verdict.valid:
                return None
        return action
