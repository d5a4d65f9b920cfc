"""The blender domain: operator calls of the installed Blender, with its collectors and verifiers."""

from __future__ import annotations

from nep_core.domain import Domain
from nep_core.examples import ExampleConfig
from nep_core.rl.reward_weights import RewardWeights
from nep_blender.action_space import BlenderActionSpace
from nep_blender.collectors.addon import AddonLogCollector
from nep_blender.collectors.scripts import ScriptsCollector
from nep_blender.encoder import BlenderEncoder
from nep_blender.registry import load_registry
from nep_blender.synthetic.collector import SyntheticCollector
from nep_blender.verifier import ReplayVerifier

DEFAULT_SESSIONS = 600
EXAMPLE_SCRIPTS_COPIES = 4
DEFAULT_SOURCE = f"synthetic:{DEFAULT_SESSIONS}?scripts=1 + scripts:bundled + scripts:nep-examples * {EXAMPLE_SCRIPTS_COPIES}"
"""The embedded default dataset: 600 synthetic sessions, each recorded session also written the way
a script runs it, so the model knows both the add-on's recordings and scripts; the scripts that
ship inside the installed bpy (its add-ons and templates); and the 160 example scripts written for
NEP in the styles of public scripts, each session four times (676 of the 3,934 sessions), so that
their habits (how a function ends, which calls follow which), which the synthetic authors only
approximate, weigh against the 2,573 synthetic script functions."""


RL_REWARDS = RewardWeights(valid=0.0, match=1.0, no_edit=0.0, match_mode="exact")
"""Exact match alone, the reward of the runs that improved the blender model (docs/rl.md, *Enough prompts*)."""

ADDON_MIN_CONFIDENCE = 0.1
"""The add-on's default Minimum Confidence: it shows no suggestion below it, so ``nep eval`` scores a
top-1 below it as no edit (``Domain.min_confidence``)."""


def build_domain() -> Domain:
    action_space = BlenderActionSpace(load_registry())
    collectors = {}
    verifiers = {}
    # collectors and verifiers (one line each) ------------------------------------------------
    collectors["synthetic"] = SyntheticCollector()
    collectors["addon"] = AddonLogCollector(action_space)
    collectors["scripts"] = ScriptsCollector(action_space)
    verifiers["replay"] = ReplayVerifier(action_space)
    # ------------------------------------------------------------------------------------------
    return Domain(
        name="blender",
        description="Blender operator calls (bpy): the next operator and its settings",
        action_space=action_space,
        encoder=BlenderEncoder(action_space),
        collectors=collectors,
        verifiers=verifiers,
        default_source=DEFAULT_SOURCE,
        default_preset="small",
        min_confidence=ADDON_MIN_CONFIDENCE,
        beam_width=4,  # an operator call is a few tokens: beams of 4, 8 and 16 rank the same (docs/domains/blender.md)
        examples=ExampleConfig(horizon_events=3, horizon_seconds=30.0, pause_seconds=20.0),
        rl_rewards=RL_REWARDS,
    )
