"""Verifiers: can a predicted action really be applied here, and how good is it."""

from __future__ import annotations

import numbers
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

from nep_core.action_space import ActionSpace
from nep_core.actions import Action, is_finite_number
from nep_core.errors import InvalidAction, PluginFault, first_line
from nep_core.session import Context


@dataclass(frozen=True)
class Verdict:
    """``valid``: the action can be executed in the domain; ``reward``: how well it matches the reference (0..1).

    Numeric ``details`` are averaged by ``nep eval`` and logged by ``nep rl``.
    """

    valid: bool
    reward: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def scored_verdict(verdict: object) -> Verdict:
    """``verdict`` with its reward as a Python float, ready to average (numpy's numbers are Real);
    ``ValueError`` says why it cannot be: not a ``Verdict``, or a reward that is not a finite number."""
    if not isinstance(verdict, Verdict):
        raise ValueError(f"returned {type(verdict).__name__}, not a Verdict")
    reward = verdict.reward
    if not is_finite_number(reward):
        shown = str(reward) if isinstance(reward, numbers.Real) else repr(reward)  # str: numpy 2's repr is np.float32(inf)
        raise ValueError(f"gave the reward {shown[:40]}, not a finite number")
    return replace(verdict, reward=float(reward))


PLUGIN_FAILURES = (Exception, SystemExit)
"""What a plugin's verifier may raise and NEP reports: ``sys.exit`` in a plugin must not end a run with status 0."""


def describe_raise(error: BaseException) -> str:
    """``raised ZeroDivisionError: division by zero (verifier.py:42)``: what a verifier raised, and where."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"raised {type(error).__name__}: {first_line(error)}{where}"  # one line, whatever the plugin's message


def verifier_fault(name: str, verifier: Any, problem: str) -> PluginFault:
    """A verifier that raised or broke its contract, as the command's one line (status 1, a plugin's code failing):
    ``plugin 'x' (WHERE): verifier 'NAME' PROBLEM``, without the plugin where the verifier is NEP's or a test's."""
    from nep_core.plugins import plugin_of

    record = plugin_of(verifier)
    return PluginFault(f"{f'plugin {record.label}: ' if record is not None else ''}verifier '{name}' {problem}")


class Verifier(ABC):
    """``verify(context, predicted, reference=None) -> Verdict``."""

    name: str = ""
    description: str = ""
    serving: bool = True
    """Checked on every suggestion ``nep serve`` sends. False for a verifier too slow for the request
    path (one that replays a session in the app); it still judges ``nep eval`` and ``nep rl``."""
    reads_times: bool = False
    """True for a verifier whose verdict may depend on the events' times (``t``). ``nep serve`` then
    checks a suggestion computed ahead for an accept (docs/serving.md) again when the accept came at
    another time than assumed; otherwise the verdicts of the assumed time stand."""

    @abstractmethod
    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        """Judge ``predicted`` in ``context``; ``reference`` is what the user really did next, when known."""

    def verify_many(self, items: Sequence[tuple[Context, Action, Action | None]]) -> list[Verdict]:
        """Verdicts for ``(context, predicted, reference)`` items, in order; override to batch or parallelize."""
        return [self.verify(context, predicted, reference) for context, predicted, reference in items]


class ActionSpaceVerifier(Verifier):
    """Valid when the action space can write the action; reward 1 for an exact match with the reference."""

    name = "action-space"
    description = "the action is well-formed in the domain's action space; reward = exact match"

    def __init__(self, action_space: ActionSpace):
        self.action_space = action_space

    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        try:
            predicted = self.action_space.validate(predicted)
        except InvalidAction as error:
            return Verdict(False, 0.0, {"error": str(error)})
        if reference is None:
            return Verdict(True, 0.0)
        try:
            reference = self.action_space.validate(reference)
        except InvalidAction:
            return Verdict(True, 0.0)
        return Verdict(True, float(predicted == reference))
