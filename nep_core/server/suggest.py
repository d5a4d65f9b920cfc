"""Suggestions the server may show: the predictor's top-k, each checked by the domain before it goes out.

A suggestion survives only when the action space can write it (``validate``) and every serving
verifier of the domain (``Verifier.serving``) finds it valid in the request's context; the rest are
dropped and counted. The predictor runs behind a ``PredictorGate`` (one prediction at a time unless it
declares ``thread_safe = True``, requests before speculation, a session's newest request only);
verifiers run behind the same gate, so a domain whose verifier drives a single-threaded app (bpy)
stays safe. ``answer`` serves a session's request from its speculation on accept when one matches
(``nep_core.server.speculation``) and prepares the next speculations.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

from nep_core.action_space import instance_key
from nep_core.actions import Action
from nep_core.domain import Domain
from nep_core.errors import InvalidAction
from nep_core.inference.predictor import Prediction, Predictor, Suggestion
from nep_core.server.gate import PredictorGate, Ticket
from nep_core.server.history_cache import marshalled_size
from nep_core.server.speculation import SpeculationSettings, Speculation, SpeculativeCache, SpeculativeResult
from nep_core.session import Context
from nep_core.verifier import PLUGIN_FAILURES, describe_raise, scored_verdict

log = logging.getLogger("nep.server")


@dataclass
class Answer:
    """A checked prediction for one request; ``speculative`` when it came from a speculation on accept.
    ``follow_ups`` are the speculations to submit once the answer is sent; ``request_id`` links feedback
    to the answer and to them."""

    prediction: Prediction
    dropped: int
    speculative: bool = False
    follow_ups: list[Speculation] = field(default_factory=list)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class SuggestionService:
    """``suggest(context, k)``: the predictor's answer with every unusable suggestion removed;
    ``answer(...)``: the same for a server request, with speculation on accept."""

    def __init__(self, domain: Domain, predictor: Predictor, speculation: SpeculationSettings | None = None):
        self.domain = domain
        self.predictor = predictor
        self.settings = speculation or SpeculationSettings()
        self.gate = PredictorGate(exclusive=not getattr(predictor, "thread_safe", False))
        self.checks_read_times = any(verifier.reads_times for verifier in domain.verifiers.values() if verifier.serving)
        """Whether a serving verifier reads events' times: a speculation retimed then needs its checks again."""
        self.speculations = SpeculativeCache(self.gate, self._speculate, self.settings.max_sessions, self.settings.max_events,
                                             self.settings.quiet, self.settings.max_bytes)

    def suggest(self, context: Context, k: int, ticket: Ticket | None = None) -> tuple[Prediction, int]:
        """The checked prediction and how many suggestions were dropped (``Superseded`` if ``ticket`` is)."""
        with self.gate.request(ticket):
            return self.checked_prediction(context, self.predictor.predict(context, k), k)

    def answer(self, context: Context, state: Mapping[str, Any] | None, k: int, ticket: Ticket | None = None,
               history_bytes: int = 0) -> Answer:
        """The answer to a request whose explicit ``state`` (None: the history's) is given apart from
        ``context``: from the session's matching speculation when there is one, else predicted.
        ``history_bytes``: the history's records marshalled (``ParsedHistories.parse_sized``), for the
        speculations' byte budget."""
        answer = None
        for speculation in self.speculations.take(context.session_id):
            if answer is None and speculation.matches(context.history, state, k):
                answer = self._from_speculation(speculation, context, k, ticket)
            else:
                speculation.drop()
        if answer is None:
            prediction, dropped = self.suggest(context, k, ticket)
            answer = Answer(prediction, dropped)
        return self._answered(context, state, k, answer, history_bytes)

    def ready_answer(self, context: Context, state: Mapping[str, Any] | None, k: int, history_bytes: int = 0) -> Answer | None:
        """``answer``, when a finished speculation of the session gives it without the predictor, the
        gate or a verifier: quick enough for the server's event loop. None: call ``answer`` (nothing
        was changed)."""
        for speculation in self.speculations.peek(context.session_id):
            result = speculation.finished()
            if result is None or not speculation.matches(context.history, state, k):
                continue
            if speculation.logged_with_context(context.history):
                return None  # the prompts must be compared: not on the event loop
            if context.history[-1].t != speculation.t and (
                result.input_key is None
                or self.checks_read_times
                or self.predictor.quick_input_key(context) != result.input_key
            ):
                return None
            for taken in self.speculations.take(context.session_id):
                taken.drop()
            return self._answered(context, state, k, Answer(result.checked, result.dropped, speculative=True), history_bytes)
        return None

    def _answered(self, context: Context, state: Mapping[str, Any] | None, k: int, answer: Answer, history_bytes: int) -> Answer:
        """``answer`` counted, with the speculations on it prepared."""
        self.speculations.count(answer.speculative)
        answer.follow_ups = self._follow_ups(context, state, k, answer, history_bytes)
        self.speculations.put(context.session_id, answer.follow_ups)
        return answer

    def checked_prediction(self, context: Context, prediction: Prediction, k: int) -> tuple[Prediction, int]:
        """``prediction`` with the suggestions the domain refuses removed, and how many were."""
        return checked_prediction(self.domain, context, prediction, k)

    def close(self) -> None:
        self.speculations.close()

    # -- speculation on accept -----------------------------------------------------------------

    def _follow_ups(self, context: Context, state: Mapping[str, Any] | None, k: int, answer: Answer,
                    history_bytes: int) -> list[Speculation]:
        """Speculations on the suggestions of ``answer`` a client shows (none when it shows nothing)."""
        prediction = answer.prediction
        if self.settings.suggestions < 1 or not context.session_id or prediction.best.is_no_edit:
            return []
        size = history_bytes + (marshalled_size(state) if state is not None else 0)  # in C: about 1 ms a MB
        return [
            Speculation.after(context, state, k, suggestion.action, self.settings.accept_delay, size, answer.request_id)
            for suggestion in prediction.suggestions[: self.settings.suggestions]
        ]

    def _speculate(self, speculation: Speculation) -> SpeculativeResult | None:
        """Run on the speculation thread, holding the gate; it gives way (None) as soon as a request waits."""
        context = speculation.context
        key = self.predictor.input_key(context)
        raw = self.predictor.predict_interruptible(context, speculation.k, stop=lambda: self.gate.waiting > 0)
        if raw is None:
            return None
        checked, dropped = self.checked_prediction(context, raw, speculation.k)
        return SpeculativeResult(raw, checked, dropped, key)

    def _from_speculation(self, speculation: Speculation, context: Context, k: int, ticket: Ticket | None) -> Answer | None:
        result = speculation.claim()
        if result is None:
            return None
        if speculation.logged_with_context(context.history):  # the app added a context to the accepted action
            with self.gate.request(ticket):
                key = self.predictor.prompt_key(context)
                if key is None or key != self.predictor.prompt_key(speculation.context):
                    prediction, dropped = self.checked_prediction(context, self.predictor.predict(context, k), k)
                    return Answer(prediction, dropped)
                prediction, dropped = self.checked_prediction(context, result.raw, k)  # in the real context
            return Answer(prediction, dropped, speculative=True)
        if context.history[-1].t == speculation.t:
            return Answer(result.checked, result.dropped, speculative=True)
        if result.input_key is None:
            return None
        with self.gate.request(ticket):
            if self.predictor.input_key(context) != result.input_key:
                prediction, dropped = self.checked_prediction(context, self.predictor.predict(context, k), k)
                return Answer(prediction, dropped)
            if not self.checks_read_times:
                return Answer(result.checked, result.dropped, speculative=True)
            prediction, dropped = self.checked_prediction(context, result.raw, k)
        return Answer(prediction, dropped, speculative=True)


def checked_prediction(domain: Domain, context: Context, prediction: Prediction, k: int, verify: bool = True) -> tuple[Prediction, int]:
    """``prediction``'s top ``k`` as the action space bound to ``context`` writes them (relabelled
    where it rewrote one), without those it cannot write or (with ``verify``) a serving verifier
    refuses; and how many were left out."""
    kept: list[Suggestion] = []
    space = domain.action_space.for_context(context)
    for suggestion in prediction.suggestions[:k]:
        action = checked_action(domain, context, suggestion.action, space, verify)
        if action is not None:
            label = suggestion.label if suggestion.label and action == suggestion.action else space.describe(action)
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


def checked_action(domain: Domain, context: Context, action: Action, space, verify: bool = True) -> Action | None:
    """``action`` as ``space`` (bound to ``context``) writes it, or None when it is NO_EDIT,
    unwritable or (with ``verify``) refused by a serving verifier. A plugin's action space or verifier
    that fails (raises, or returns what ``nep eval`` would refuse: no ``Verdict``, a reward that is not a
    finite number) refuses the suggestion rather than failing the request, and is logged in one line, once
    per kind of failure: not a traceback per suggestion."""
    if action.is_no_edit:
        return None
    try:
        action = space.validate(action)
    except InvalidAction:
        return None
    except PLUGIN_FAILURES as error:
        _log_once(domain.action_space, raise_kind(error),
                  f"the action space of domain '{domain.name}' {describe_raise(error)} in validate; the suggestions it "
                  f"cannot check are dropped (logged once)")
        return None
    for name, verifier in domain.verifiers.items() if verify else ():
        if not verifier.serving:
            continue
        try:
            verdict = verifier.verify(context, action)
        except PLUGIN_FAILURES as error:  # a broken verifier refuses the suggestion rather than failing the request
            _log_once(verifier, raise_kind(error),
                      f"verifier '{name}' of domain '{domain.name}' {describe_raise(error)}; the suggestions it judges "
                      f"are dropped (logged once)")
            return None
        try:
            verdict = scored_verdict(verdict)  # what `nep eval` asks of a verdict
        except ValueError as error:
            _log_once(verifier, str(error),
                      f"verifier '{name}' of domain '{domain.name}' {error}; the suggestions it judges are dropped (logged once)")
            return None
        if not verdict.valid:
            return None
    return action


_LOGGED: set[tuple] = set()
"""(the failing object's ``instance_key``, the kind of failure) already logged: one line each, not one a suggestion."""

MAX_LOGGED = 10_000


def raise_kind(error: BaseException) -> tuple:
    """What makes two raises the same failure: the exception's type and where it was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    return (type(error).__name__, *((frames[-1].filename, frames[-1].lineno) if frames else ()))


def _log_once(failing: object, kind: object, message: str) -> None:
    if first_time(failing, kind):
        log.error("%s", message)


def first_time(failing: object, kind: object) -> bool:
    """Whether this failure (of ``failing``, of this ``kind``) is new: logged whole once, then in a line or not at all."""
    key = (instance_key(failing), kind)
    if key in _LOGGED:
        return False
    if len(_LOGGED) >= MAX_LOGGED:
        _LOGGED.clear()
    _LOGGED.add(key)
    return True
