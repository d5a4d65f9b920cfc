"""The Domain bundle a plugin registers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

from nep_core.action_space import ActionSpace
from nep_core.collector import Collector
from nep_core.encoder import HistoryEncoder
from nep_core.examples import ExampleConfig
from nep_core.rl.reward_weights import RewardWeights
from nep_core.session import Session
from nep_core.verifier import Verifier

if TYPE_CHECKING:
    from pathlib import Path

    from transformers import PreTrainedTokenizerFast

    from nep_core.evaluation.metrics import Outcome


@dataclass
class Domain:
    """Everything NEP needs to train, evaluate and serve one app's actions.

    ``default_source`` (``COLLECTOR:ARGUMENT``) makes the embedded default dataset that
    ``nep train --domain NAME`` uses with no ``--data``. ``tokenizer_factory`` defaults to a WordLevel
    tokenizer over the action space's and encoder's vocabularies.
    """

    name: str
    action_space: ActionSpace
    encoder: HistoryEncoder
    description: str = ""
    collectors: dict[str, Collector] = field(default_factory=dict)
    verifiers: dict[str, Verifier] = field(default_factory=dict)
    default_source: str | None = None
    default_preset: str = "small"
    decision: str = "sequence"
    """How a model weighs NO_EDIT against edits: ``"sequence"`` (the most probable whole action) or
    ``"kind"`` (the most probable kind of action first; for long actions such as strokes)."""
    min_confidence: float = 0.0
    """The confidence (``Prediction.confidence``) below which the domain's app shows no suggestion, as
    it ships: ``nep eval`` scores what the app shows, a top-1 suggestion below it counting as NO_EDIT."""
    beam_width: int = 16
    """Live hypotheses of a model's beam search (never fewer than the k asked for). Domains with short
    actions decode as well with a narrower beam, and faster."""
    default_max_steps: int | None = None
    """Steps ``nep train`` runs when ``--max-steps`` is not given (None: 1000)."""
    prompt_loss_weight: float = 0.0
    """``nep train``'s default ``--prompt-loss-weight``: how much the loss on the prompt's own tokens
    (the history, read as a sequence of actions) counts beside the loss on the target."""
    examples: ExampleConfig = field(default_factory=ExampleConfig)
    rl_rewards: RewardWeights = field(default_factory=RewardWeights)
    """``nep rl``'s reward weights when no ``--reward-*`` or ``--match-mode`` option is given (each
    option given replaces only its own field)."""
    tokenizer_factory: Callable[[Domain, Sequence[Session]], PreTrainedTokenizerFast] | None = None
    renderer: Callable[[Sequence[Outcome], Path, int], list[Path]] | None = None
    """``renderer(outcomes, folder, limit)`` draws up to ``limit`` evaluated examples as files in
    ``folder`` and returns their paths (``nep eval --render DIR``); None: the domain draws nothing."""
    plugin: str = ""

    def build_tokenizer(self, sessions: Sequence[Session] = ()) -> PreTrainedTokenizerFast:
        if self.tokenizer_factory is not None:
            from nep_core.plugins import fault
            from nep_core.tokenizer import tokenizer_problem

            tokenizer = self.tokenizer_factory(self, sessions)
            problem = tokenizer_problem(tokenizer)
            if problem is not None:
                raise fault(self.tokenizer_factory, "", problem)
            return tokenizer
        from nep_core.tokenizer import build_wordlevel_tokenizer

        return build_wordlevel_tokenizer([*self.action_space.vocabulary(), *self.encoder.vocabulary()])

    def add_collector(self, collector: Collector, plugin: str = "") -> None:
        _add_named(self.collectors, collector, "collector", self.name, plugin)

    def add_verifier(self, verifier: Verifier, plugin: str = "") -> None:
        _add_named(self.verifiers, verifier, "verifier", self.name, plugin)


def _add_named(table: dict, item, what: str, domain: str, plugin: str) -> None:
    """Add ``item`` under its name: a class where an instance belongs, anything that is not a ``Collector``
    (``Verifier``), or one without a name is a ``PluginMistake`` (NEP skips it with a warning while it
    builds the domain table); a name the domain already has is a ``PluginError``."""
    from nep_core.errors import PluginError, PluginMistake

    expected = Collector if what == "collector" else Verifier
    if isinstance(item, type):
        raise PluginMistake(f"plugin '{plugin}' registered the class {item.__name__} as a {what} for domain '{domain}'; "
                            f"register an instance ({item.__name__}(...))")
    if not isinstance(item, expected):
        raise PluginMistake(f"plugin '{plugin}' registered a {type(item).__name__} as a {what} for domain '{domain}', "
                            f"not a {expected.__module__}.{expected.__name__}")
    if not item.name:
        raise PluginMistake(f"a {what} for domain '{domain}' from plugin '{plugin}' has no name")
    if item.name in table:
        raise PluginError(
            f"{what} '{item.name}' for domain '{domain}' is registered twice (again by plugin '{plugin}'); "
            f"rename one or uninstall one of the plugins"
        )
    table[item.name] = item
