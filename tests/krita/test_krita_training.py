"""Training the krita domain end to end: a few steps on a tiny synthetic dataset, then predictions that
decode to valid strokes on the canvas, painted with the current brush."""

from __future__ import annotations

import json

import pytest

from nep_core.actions import Action

SOURCE = "synthetic:12?width=512&height=384"


@pytest.fixture(scope="module")
def stroke_logs(tmp_path_factory):
    """Synthetic sessions with only their state events and strokes, written as session logs: a few
    training steps then teach the model that a stroke comes next."""
    from dataclasses import replace

    from nep_core.collector import CollectReport
    from nep_core.plugins import get_domain
    from nep_core.sessionlog import write_sessions

    domain = get_domain("krita")
    folder = tmp_path_factory.mktemp("krita-logs")
    sessions = [
        replace(session, events=[event for event in session.events if event.action is None or event.action.kind == "stroke"])
        for session in domain.collectors["synthetic"].collect(SOURCE.partition(":")[2], CollectReport())
    ]
    write_sessions(folder, sessions)
    return folder


@pytest.fixture(scope="module")
def trained_krita_model(tmp_path_factory, stroke_logs):
    from nep_core.training import TrainConfig, train

    out = tmp_path_factory.mktemp("krita-run") / "run"
    config = TrainConfig(domain="krita", data=str(stroke_logs), preset="tiny", max_steps=40, batch_size=16, val_every=40,
                         out=out, seed=0, progress=False)
    return train(config)


def test_checkpoint_records_the_domain_and_the_brushes_of_the_data(trained_krita_model):
    meta = json.loads((trained_krita_model / "nep.json").read_text())
    assert meta["domain"] == "krita" and meta["encoder"]["class"] == "KritaEncoder"
    vocab = json.loads((trained_krita_model / "tokenizer.json").read_text())["model"]["vocab"]
    assert {"@stroke", "dx=-64", "dy=64", "sx=0", "p=7", "brush:c%29%20Pencil-2"} <= set(vocab)


def test_trained_model_predicts_valid_strokes(trained_krita_model, stroke_logs):
    from nep_core.dataset import load_sessions
    from nep_core.examples import build_examples, split_sessions
    from nep_core.inference.factory import load_predictor
    from nep_core.plugins import get_domain
    from nep_krita.action_space import current_settings
    from nep_krita.strokes import Stroke

    domain = get_domain("krita")
    sessions, _ = load_sessions(domain, str(stroke_logs))
    examples, _ = build_examples(split_sessions(sessions, domain.examples), domain)
    predictor = load_predictor(str(trained_krita_model), domain)
    verifier = domain.verifiers["canvas"]
    strokes = 0
    for example in (examples["test"] + examples["val"])[:6]:
        prediction = predictor.predict(example.context, k=3)
        assert 0.0 <= prediction.p_no_edit <= 1.0
        settings = current_settings(example.context)
        for suggestion in prediction.suggestions:
            action: Action = suggestion.action
            assert verifier.verify(example.context, action).valid, action
            if action.kind == "stroke":
                stroke = Stroke.from_action(action)
                assert stroke.on_canvas(512, 384) and len(set(stroke.xy)) >= 2
                assert (stroke.brush, stroke.color) == (settings["brush"], settings["color"])
                strokes += 1
    assert strokes >= 6  # 4 tokens for a moved copy of a recent stroke: strokes outrank one-token actions
