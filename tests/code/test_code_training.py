"""Training the code domain end to end: BPE tokenizer, a few steps on tiny LintSeq data, then predictions
that decode to well-formed edits; and fine-tuning from a local model folder with its own tokenizer."""

from __future__ import annotations

import json

import pytest

from nep_core.action_space import EOS

DATA = "lintseq:?sessions=24&max_steps=4"


@pytest.fixture(scope="module")
def trained_code_model(tmp_path_factory):
    from nep_core.training import TrainConfig, train

    out = tmp_path_factory.mktemp("code-run") / "run"
    config = TrainConfig(domain="code", data=DATA, preset="tiny", max_steps=6, batch_size=8, val_every=6,
                         out=out, seed=0, progress=False)
    return train(config)


def test_checkpoint_holds_a_byte_level_bpe_with_the_structural_tokens(trained_code_model):
    tokenizer = json.loads((trained_code_model / "tokenizer.json").read_text())
    assert tokenizer["model"]["type"] == "BPE"
    assert tokenizer["pre_tokenizer"]["type"] == "ByteLevel"
    added = {entry["content"] for entry in tokenizer["added_tokens"]}
    assert {"<edit>", "<jump>", "<L0>", "<del0>", "<file0>", "<#9>", "<cursor>", "<region>", EOS} <= added
    meta = json.loads((trained_code_model / "nep.json").read_text())
    assert meta["domain"] == "code" and meta["encoder"]["region_tokens"] > 0


def test_trained_model_predicts_well_formed_edits(trained_code_model):
    from nep_core.dataset import load_sessions
    from nep_core.examples import build_examples, split_sessions
    from nep_core.inference.factory import load_predictor
    from nep_core.plugins import get_domain
    from nep_code.edits import LineEdit
    from nep_code.encoder import Replay

    domain = get_domain("code")
    sessions, _ = load_sessions(domain, DATA)
    examples, _ = build_examples(split_sessions(sessions, domain.examples), domain)
    predictor = load_predictor(str(trained_code_model), domain)
    checked = suggested = 0
    for example in (examples["test"] + examples["val"])[:6]:
        prediction = predictor.predict(example.context, k=3)
        assert 0.0 <= prediction.p_no_edit <= 1.0
        assert sum(s.probability for s in prediction.suggestions) + prediction.p_no_edit <= 1.0 + 1e-6
        replay = Replay()
        replay.advance(list(example.context.history))
        for suggestion in prediction.suggestions:
            action = domain.action_space.validate(suggestion.action)
            if action.kind == "edit":
                edit = LineEdit.from_action(action)
                assert edit.applies_to(replay.files[edit.file])
            else:
                assert action.kind == "jump" and action.target["file"] in replay.files
        checked += 1
        suggested += len(prediction.suggestions)
    assert checked == 6 and suggested > 0


def test_base_model_fine_tuning_keeps_the_base_tokenizer(trained_code_model, tmp_path):
    from nep_core.training import TrainConfig, train

    out = tmp_path / "fine-tuned"
    config = TrainConfig(domain="code", data=DATA, base_model=trained_code_model, max_steps=2, batch_size=4,
                         val_every=2, out=out, seed=0, progress=False)
    train(config)
    base = json.loads((trained_code_model / "tokenizer.json").read_text())["model"]["vocab"]
    tuned = json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]
    assert tuned == base
    assert json.loads((out / "nep.json").read_text())["base_model"] == str(trained_code_model.resolve())
