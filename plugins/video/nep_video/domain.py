"""The video domain: the next timeline edit on an OTIO timeline, with its collectors and verifier."""

from __future__ import annotations

from nep_core.domain import Domain
from nep_core.examples import ExampleConfig
from nep_video.action_space import VideoActionSpace
from nep_video.collectors.editor import EditorLogCollector
from nep_video.collectors.history import HistoryCollector
from nep_video.collectors.synthetic import SyntheticCutCollector
from nep_video.encoder import VideoEncoder
from nep_video.render import render_outcomes
from nep_video.replay import locate
from nep_video.verifier import TimelineVerifier

DEFAULT_SESSIONS = 400
"""Sessions in the embedded default dataset (``synthetic:400``)."""

DEFAULT_MAX_STEPS = 400
"""``nep train --domain video`` steps: the small preset on 2 CPU cores in about 10 minutes (docs/domains/video.md)."""


def build_domain() -> Domain:
    action_space = VideoActionSpace(locator=locate)
    collectors = {}
    for collector in (SyntheticCutCollector(), HistoryCollector(), EditorLogCollector(action_space)):
        collectors[collector.name] = collector
    verifier = TimelineVerifier()
    return Domain(
        name="video",
        description="video editing on OTIO timelines: the next trim, split, ripple delete, roll, slip, move, insert or dissolve",
        action_space=action_space,
        encoder=VideoEncoder(action_space),
        collectors=collectors,
        verifiers={verifier.name: verifier},
        default_source=f"synthetic:{DEFAULT_SESSIONS}",
        default_preset="small",
        default_max_steps=DEFAULT_MAX_STEPS,
        beam_width=4,
        examples=ExampleConfig(horizon_events=3, horizon_seconds=30.0, pause_seconds=20.0),
        renderer=render_outcomes,
    )
