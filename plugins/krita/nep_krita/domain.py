"""The krita domain: the next brush stroke (or discrete painting action), with its collectors and verifier."""

from __future__ import annotations

from typing import Sequence

from nep_core.domain import Domain
from nep_core.examples import ExampleConfig
from nep_core.session import Session
from nep_krita.action_space import KritaActionSpace, brush_token
from nep_krita.collectors.krita import KritaLogCollector
from nep_krita.collectors.quickdraw import QuickDrawCollector
from nep_krita.collectors.synthetic import SyntheticDrawingCollector
from nep_krita.encoder import KritaEncoder
from nep_krita.render import render_outcomes
from nep_krita.strokes import STROKE_KIND
from nep_krita.verifier import CanvasVerifier

DEFAULT_SESSIONS = 300
"""Sessions in the embedded default dataset (``synthetic:300``)."""

DEFAULT_MAX_STEPS = 300
"""``nep train --domain krita`` steps: the small preset on 2 CPU cores in about 10 minutes (measured:
60 steps in 106 s, 3,600 tokens/s at batch 32 and about 6,300 tokens a step, with the machine's load
average at 3.4; then about a minute for the dataset and validation)."""


def build_krita_tokenizer(domain: Domain, sessions: Sequence[Session]):
    """WordLevel over the action space and encoder vocabularies, plus every brush preset the sessions use."""
    from nep_core.tokenizer import build_wordlevel_tokenizer

    brushes: dict[str, None] = {}
    for session in sessions:
        for action in session.actions():
            name = action.args.get("brush") if action.kind in ("brush", STROKE_KIND) else None
            if isinstance(name, str) and name:
                brushes[brush_token(name)] = None
    tokens = [*domain.action_space.vocabulary(), *domain.encoder.vocabulary(), *brushes]
    tokenizer = build_wordlevel_tokenizer(tokens)
    domain.action_space.bind_tokenizer(tokenizer)
    return tokenizer


DOCKER_MIN_CONFIDENCE = 0.1
"""The docker's default Minimum confidence: it shows no suggestion whose confidence (for a stroke,
how sure the model is that a stroke comes next) is below it, so ``nep eval`` scores such a top-1 as
no edit (``Domain.min_confidence``)."""


def build_domain() -> Domain:
    action_space = KritaActionSpace()
    collectors = {}
    for cls in (KritaLogCollector, QuickDrawCollector, SyntheticDrawingCollector):
        collector = cls(action_space)
        collectors[collector.name] = collector
    verifier = CanvasVerifier(action_space)
    return Domain(
        name="krita",
        description="Krita painting: the next brush stroke (start cell, shape, pressure) or layer, brush, colour, undo action",
        action_space=action_space,
        encoder=KritaEncoder(action_space),
        collectors=collectors,
        verifiers={verifier.name: verifier},
        default_source=f"synthetic:{DEFAULT_SESSIONS}",
        default_preset="small",
        default_max_steps=DEFAULT_MAX_STEPS,
        min_confidence=DOCKER_MIN_CONFIDENCE,
        decision="kind",  # a stroke is 10-60 tokens: weigh strokes as a whole against undo or NO_EDIT
        beam_width=4,  # beams of 2, 4 and 16 draw the same strokes; 4 takes a third of 16's time (docs/domains/krita.md)
        examples=ExampleConfig(horizon_events=2, horizon_seconds=20.0, pause_seconds=15.0),
        tokenizer_factory=build_krita_tokenizer,
        renderer=render_outcomes,
    )

