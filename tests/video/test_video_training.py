"""Training the video domain end to end: a few steps on a tiny synthetic dataset, then suggestions that apply to the timeline."""

from __future__ import annotations

import json

import pytest


@pytest.fixture(scope="module")
def trained_video_model(tmp_path_factory):
    from nep_core.training import TrainConfig, train

    out = tmp_path_factory.mktemp("video-run") / "run"
    config = TrainConfig(domain="video", data="synthetic:16?clips=12", preset="tiny", max_steps=30, batch_size=16, val_every=30,
                         out=out, seed=0, progress=False)
    return train(config)


def test_the_checkpoint_records_the_domain_and_the_relative_vocabulary(trained_video_model):
    meta = json.loads((trained_video_model / "nep.json").read_text())
    assert meta["domain"] == "video" and meta["encoder"]["class"] == "VideoEncoder"
    vocab = json.loads((trained_video_model / "tokenizer.json").read_text())["model"]["vocab"]
    assert {"@trim_in", "@ripple_delete", "c=+1", "f=-12", "track=0", "len=96", "same"} <= set(vocab)


def test_every_suggestion_of_the_trained_model_applies_to_its_timeline(trained_video_model):
    from nep_core.dataset import load_sessions
    from nep_core.examples import build_examples, split_sessions
    from nep_core.inference.factory import load_predictor
    from nep_core.plugins import get_domain

    domain = get_domain("video")
    sessions, _ = load_sessions(domain, "synthetic:16?clips=12")
    examples, _ = build_examples(split_sessions(sessions, domain.examples), domain)
    predictor = load_predictor(str(trained_video_model), domain)
    verifier = domain.verifiers["timeline"]
    suggested = 0
    for example in (examples["test"] + examples["val"])[:8]:
        prediction = predictor.predict(example.context, k=3)
        assert 0.0 <= prediction.p_no_edit <= 1.0
        for suggestion in prediction.suggestions:
            verdict = verifier.verify(example.context, suggestion.action)
            assert verdict.valid, (suggestion.action, verdict.details)
            suggested += 1
    assert suggested >= 8
