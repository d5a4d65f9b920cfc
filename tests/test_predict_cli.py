"""`nep predict`: suggestions for what follows a recorded session, as a table or JSON; user errors."""

from __future__ import annotations

import json

import pytest

from inference_helpers import nep, save_random_checkpoint
from nep_core.actions import Action
from nep_core.plugins import get_domain
from nep_core.session import Event, Session
from nep_core.sessionlog import write_session


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tags_domain):
    return save_random_checkpoint(tmp_path_factory.mktemp("predict") / "model", tags_domain, seed=3)


@pytest.fixture(scope="module")
def session_log(tmp_path_factory, tags_sessions):
    return write_session(tmp_path_factory.mktemp("logs") / "session.jsonl", tags_sessions[0])


def test_predict_json_gives_valid_suggestions_and_p_no_edit(checkpoint, session_log, tags_sessions):
    result = nep("predict", "--domain", "tags", "--model", str(checkpoint), "--session", str(session_log), "--top-k", "4", "--json",
                 "--data", "nowhere")
    assert result.returncode == 0, result.stderr
    assert f"--data is only used to fit a baseline; ignored for the model in {checkpoint}" in result.stderr.replace("\n", "")
    payload = json.loads(result.stdout)
    assert payload["session"] == tags_sessions[0].id and payload["events"] == len(tags_sessions[0].events)
    assert len(payload["suggestions"]) == 4
    space = get_domain("tags").action_space
    probabilities = []
    for suggestion in payload["suggestions"]:
        action = Action.from_json(suggestion["action"])
        assert space.validate(action) == action and suggestion["label"] == space.describe(action)
        probabilities.append(suggestion["probability"])
    assert probabilities == sorted(probabilities, reverse=True)
    assert sum(probabilities) + payload["p_no_edit"] <= 1.0 + 1e-5
    assert payload["best_is_no_edit"] == (payload["best"]["kind"] == "no_edit")
    assert payload["latency_ms"] > 0


def test_predict_table_with_a_baseline(session_log, tmp_path):
    """A session that ends inside <a><b>, written into: the n-gram's table names a close or a write."""
    events = [Event(t=float(i), action=a) for i, a in enumerate([Action("open", target="a"), Action("open", target="b"), Action("write", args={"word": "x"})])]
    log = write_session(tmp_path / "open.jsonl", Session(id="open-ab", domain="tags", events=events))
    result = nep("predict", "--domain", "tags", "--model", "ngram", "--session", str(log))
    assert result.returncode == 0, result.stderr
    assert "open-ab" in result.stdout and "P(no edit) =" in result.stdout and "best:" in result.stdout
    assert "close @ " in result.stdout or "write (word=" in result.stdout


def test_a_baseline_says_it_generates_the_default_data_on_a_fresh_home(session_log, tmp_path, monkeypatch):
    """`nep serve --model ngram` (and predict) was silent for minutes while it generated the code domain's default data."""
    monkeypatch.setenv("NEP_HOME", str(tmp_path / "fresh"))
    first, again = (nep("predict", "--domain", "tags", "--model", "ngram", "--session", str(session_log)) for _ in range(2))
    assert first.returncode == again.returncode == 0, first.stderr
    assert "generating the default tags dataset (" in first.stderr and "generating" not in again.stderr


def test_predict_user_errors_are_one_line(checkpoint, session_log, tmp_path, tags_domain):
    other_session = write_session(tmp_path / "other.jsonl", Session(id="o", domain="krita", events=[]))
    other_model = save_random_checkpoint(tmp_path / "other-model", tags_domain, meta_domain="krita")
    cases = [
        (("--domain", "nope", "--model", "ngram", "--session", str(session_log)), "unknown domain 'nope'"),
        (("--domain", "tags", "--model", str(checkpoint), "--session", str(tmp_path / "none.jsonl")), "no such session log"),
        (("--domain", "tags", "--model", str(checkpoint), "--session", str(other_session)), "is of domain 'krita', not 'tags'"),
        (("--domain", "tags", "--model", str(other_model), "--session", str(session_log)), "checkpoint is for domain 'krita'"),
        (("--domain", "tags", "--model", str(checkpoint), "--session", str(session_log), "--top-k", "-1"), "--top-k must be between"),
        (("--domain", "tags", "--model", str(tmp_path / "nothing"), "--session", str(session_log)), "no such model folder"),
    ]
    for args, message in cases:
        result = nep("predict", *args)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().startswith("error:") and message in result.stderr.replace("\n", ""), result.stderr


def test_predict_refuses_a_snapshot_the_domain_cannot_read_before_loading_a_model(tmp_path):
    events = [Event(t=0.0, state={"files": {"a.py": "x = 1\n"}}), Event(t=1.0, state={"cursor": {"file": "a.py", "line": 0}})]
    log = write_session(tmp_path / "bad-cursor.jsonl", Session(id="c", domain="code", events=events))
    result = nep("predict", "--domain", "code", "--model", str(tmp_path / "never-read"), "--session", str(log))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {log}:3: state.cursor.line: must be at least 1 (got 0)"  # the header is line 1


def test_predict_help_explains_options_and_gives_an_example():
    result = nep("predict", "--help")
    assert result.returncode == 0
    for text in ("--session", "--top-k", "--json", "--data", "Example: nep predict", "default"):
        assert text in result.stdout


def test_a_damaged_config_json_is_named_not_blamed_on_the_tokenizer_or_the_model(checkpoint, session_log, tmp_path):
    """A cut-short config.json said `cannot load the tokenizer (OSError ...)`, a missing one `cannot load the model
    (ValueError: Unrecognized model ...)`, and `"vocab_size": "lots"` ended its message at a colon."""
    import shutil

    def damaged(name: str, change) -> tuple:
        folder = tmp_path / name
        shutil.copytree(checkpoint, folder)
        config = folder / "config.json"
        if change is None:
            config.unlink()
        elif isinstance(change, dict):
            config.write_text(json.dumps({**json.loads(config.read_text()), **change}))
        else:
            config.write_text(config.read_text()[:change])
        return folder, config

    cases = [
        (damaged("cut", 40), "unreadable (Unterminated string starting at: line 3 column 5"),
        (damaged("gone", None), "missing; train the model again"),
        (damaged("lots", {"vocab_size": "lots"}), 'field "vocab_size" must be a positive whole number (got \'lots\'); train the model again'),
        (damaged("typeless", {"model_type": None}), 'field "model_type" must name the model\'s architecture, such as "llama" (got None)'),
        (damaged("big", {"hidden_size": "big"}), "cannot be read as the model's configuration ("),  # transformers' check, whole
    ]
    for (folder, config), message in cases:
        result = nep("predict", "--domain", "tags", "--model", str(folder), "--session", str(session_log))
        assert result.returncode == 2 and "Traceback" not in result.stderr, (folder.name, result.stderr)
        assert result.stderr.strip().startswith(f"error: {config}: {message}"), (folder.name, result.stderr)
    assert "'big'" in result.stderr and result.stderr.strip().endswith("); train the model again"), result.stderr


def test_a_composite_models_config_keeps_its_vocabulary_in_text_config(tmp_path):
    """Gemma 3 or Llama 4 (a --base-model) write no top-level vocab_size: NEP refused the checkpoint it trained from one."""
    from nep_core.checkpoint import read_model_config

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gemma3", "text_config": {"vocab_size": 320}}))
    assert read_model_config(tmp_path)["text_config"] == {"vocab_size": 320}


def test_a_baseline_with_a_location_model_is_refused_without_calling_it_a_model_that_ignores_data(session_log, tmp_path):
    """`--model ngram --data D --location-model M` first warned `--data is only used to fit a baseline; ignored for the model in ngram`."""
    result = nep("predict", "--domain", "tags", "--model", "ngram", "--data", str(tmp_path), "--location-model", str(tmp_path / "nothere"),
                 "--session", str(session_log))
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: --location-model needs a checkpoint as --model (the edit model), not the baseline 'ngram'"
