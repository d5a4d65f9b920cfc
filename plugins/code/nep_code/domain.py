"""The code domain: line edits of source files, with its collectors and verifiers."""

from __future__ import annotations

import importlib
import importlib.util

from nep_core.domain import Domain
from nep_core.examples import ExampleConfig
from nep_core.rl.reward_weights import RewardWeights
from nep_code.action_space import CodeActionSpace
from nep_code.encoder import CodeEncoder
from nep_code.tokenizer import build_code_tokenizer
from nep_code.verifier import CodeVerifier

DEFAULT_SOURCE = "refactor:?sessions=4000&per_file=1 + lintseq:?sessions=800 + rename:?sessions=600"
"""The embedded default dataset, all from the Python standard library on this machine: refactorings
continued site by site (renames, signature changes), LintSeq edit sequences (new code typed, with
pauses and abandoned edits) so that writing new lines and staying silent are learned too, and renames
carried from a module into the modules that import the name."""

DEFAULT_MAX_STEPS = 400
"""``nep train --domain code`` steps: the small preset on 2 CPU cores in about 15 minutes with the
data (about 1.9 s a step at batch 32 and ~400-token prompts). 450 steps scored the same on real
repository histories (docs/domains/code.md)."""

EDITOR_MIN_CONFIDENCE = 0.1
"""The Neovim client's default ``min_confidence``: it shows no suggestion the model gives less
probability, so ``nep eval`` scores a top-1 below it as no edit (``Domain.min_confidence``)."""

RL_REWARDS = RewardWeights(valid=0.0, match=1.0, no_edit=0.0, match_mode="exact")
"""``nep rl --domain code``'s reward: exact match alone. Partial credit (chrF) paid a wrong edit more
than a right silence and made the model eager; exact match alone raised exact match and the
verifier's reward over the SFT model on two seeds (docs/rl.md)."""

COLLECTORS = (
    ("nep_code.collectors.git", "GitCollector"),
    ("nep_code.collectors.lintseq", "LintSeqCollector"),
    ("nep_code.collectors.refactor", "RefactorCollector"),
    ("nep_code.collectors.rename", "RenameCollector"),
    ("nep_code.collectors.editor", "EditorLogCollector"),
)


def _collector_classes():
    for module_name, class_name in COLLECTORS:
        if importlib.util.find_spec(module_name.rpartition(".")[0]) is None or importlib.util.find_spec(module_name) is None:
            continue
        yield getattr(importlib.import_module(module_name), class_name)


def build_domain() -> Domain:
    action_space = CodeActionSpace()
    encoder = CodeEncoder(action_space)
    collectors = {}
    for cls in _collector_classes():
        collector = cls(action_space)
        collectors[collector.name] = collector
    verifier = CodeVerifier(action_space)
    return Domain(
        name="code",
        description="source code: the next line edit (location and content), a jump, or no edit",
        action_space=action_space,
        encoder=encoder,
        collectors=collectors,
        verifiers={verifier.name: verifier},
        default_source=DEFAULT_SOURCE,
        default_preset="small",
        default_max_steps=DEFAULT_MAX_STEPS,
        min_confidence=EDITOR_MIN_CONFIDENCE,
        beam_width=4,  # beams of 4, 6, 8 and 16 suggest the same on the test split; 4 takes 60% of 16's time (docs/domains/code.md)
        examples=ExampleConfig(horizon_events=1, horizon_seconds=30.0, pause_seconds=20.0),
        rl_rewards=RL_REWARDS,
        tokenizer_factory=build_code_tokenizer,
    )
