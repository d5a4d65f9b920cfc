"""Two-stage prediction: location prefixes, location models, and the location-then-edit predictor."""

from __future__ import annotations

import math

import pytest

from inference_helpers import nep, random_contexts, save_random_checkpoint
from nep_core.action_space import EOS, NO_EDIT_TOKEN
from nep_core.actions import NO_EDIT, Action
from nep_core.atomic_files import write_json_atomic
from nep_core.checkpoint import META_FILE, load_checkpoint, read_meta
from nep_core.errors import NepError
from nep_core.features import Featurizer
from nep_core.inference import ModelPredictor, TwoStagePredictor, load_predictor
from nep_core.location_space import LOCATION_KIND, AfterLocation, LocationSpace, location_tokens


def make_location_model(path):
    """Mark a checkpoint as trained with ``--target location``."""
    meta = read_meta(path)
    meta["target"] = "location"
    write_json_atomic(path / META_FILE, meta)
    return path


@pytest.fixture(scope="module")
def edit_checkpoint(tmp_path_factory, tags_domain):
    return save_random_checkpoint(tmp_path_factory.mktemp("edit") / "model", tags_domain, seed=1)


@pytest.fixture(scope="module")
def location_checkpoint(tmp_path_factory, tags_domain):
    return make_location_model(save_random_checkpoint(tmp_path_factory.mktemp("location") / "model", tags_domain, seed=2))


@pytest.fixture(scope="module")
def two_stage(edit_checkpoint, location_checkpoint, tags_domain):
    return load_predictor(str(edit_checkpoint), tags_domain, location_model=str(location_checkpoint))


def tags_edits(domain) -> list[Action]:
    """Every edit the tags action space can write."""
    space, actions = domain.action_space, []
    for spec in space.kinds:
        if spec.edit:
            (slot,) = spec.slots
            for value in slot.values:
                fields = {"target": value} if slot.name == "target" else {"args": {slot.name: value}}
                actions.append(space.validate(Action(spec.kind, **fields)))
    return actions


# -- location prefixes ---------------------------------------------------------------------------


def test_the_default_location_prefix_is_the_first_token(tags_domain):
    space = tags_domain.action_space
    for action in [*tags_edits(tags_domain), NO_EDIT]:
        tokens = space.encode(action)
        assert space.location_length(tokens) == 1
        assert [space.location_length(tokens[:end]) for end in range(len(tokens) + 1)] == [0, *[1] * len(tokens)]
    located = LocationSpace(space)
    assert located.allowed_next([]) == space.allowed_next([])
    assert located.allowed_next(["@close"]) == [EOS]
    assert located.allowed_next([NO_EDIT_TOKEN]) == [EOS]
    assert located.allowed_next(["@close", 'target="a"']) == []
    assert located.encode(Action("close", target="c")) == ["@close"]
    assert located.decode(["@close"]) == Action(LOCATION_KIND, target=["@close"])
    assert located.decode([NO_EDIT_TOKEN]).is_no_edit


def test_the_code_location_prefix_is_a_line_marker_or_the_whole_jump_and_agrees_with_location():
    from nep_code.action_space import (
        AGAIN_TOKEN, EDIT_TOKEN, JUMP_TOKEN, SUB_TOKEN, BoundCodeSpace, CodeActionSpace, CodeView, jump_action,
    )
    from nep_code.edits import LineEdit

    lines = ("def f(s):\n", "    t = s + 1\n", "    u = sum(s)\n", "    return t\n")
    space = CodeActionSpace()
    bound = BoundCodeSpace(space, CodeView(("a.py", "b.py"), (4, 30), 1, 4, lines, repeats=(("s", "size"),)))
    actions = [
        LineEdit("a.py", 2, 1, "    t = size + 1\n").to_action(),  # again at line 2
        LineEdit("a.py", 2, 1, "    t = s + 2\n").to_action(),  # a substitution at line 2
        LineEdit("a.py", 2, 0, "    v = 0\n").to_action(),  # an insertion at line 2
        LineEdit("a.py", 3, 1, "    u = 0\n").to_action(),
        LineEdit("a.py", 4, 1, "").to_action(),
        jump_action("b.py", 4),
        jump_action("b.py", 27),
        jump_action("a.py", 2),
    ]
    prefixes = {}
    for action in actions:
        tokens = bound.encode(action)
        length = bound.location_length(tokens)
        if tokens[0] == JUMP_TOKEN:
            assert length == len(tokens)
        else:
            assert tokens[0] in (EDIT_TOKEN, SUB_TOKEN, AGAIN_TOKEN) and length == 2
        assert [bound.location_length(tokens[:end]) for end in range(length + 1)] == list(range(length + 1))
        assert all(bound.location_length(tokens[:end]) == length for end in range(length, len(tokens) + 1))
        prefixes[action] = tuple(tokens[:length])
    assert {prefixes[action][0] for action in actions[:3]} == {AGAIN_TOKEN, SUB_TOKEN, EDIT_TOKEN}
    for first in actions:  # one line marker, one line: the marker says what location() says
        for second in actions:
            if prefixes[first][0] != JUMP_TOKEN and prefixes[second][0] != JUMP_TOKEN:
                assert (prefixes[first][1:] == prefixes[second][1:]) == (space.location(first) == space.location(second))
            if prefixes[first] == prefixes[second]:
                assert space.location(first) == space.location(second)
    assert bound.location_length([NO_EDIT_TOKEN]) == 1

    located = LocationSpace(bound)
    assert located.allowed_next([EDIT_TOKEN, "<L1>"]) == [EOS]
    assert located.allowed_next([SUB_TOKEN, "<L1>"]) == [EOS]
    assert set(located.allowed_next([JUMP_TOKEN, "<file1>", "<#2>"])) == {EOS, *(f"<#{digit}>" for digit in range(10))}
    assert located.encode(jump_action("b.py", 27)) == [JUMP_TOKEN, "<file1>", "<#2>", "<#7>"]
    after = AfterLocation(bound, 3)  # a jump to line 2 stays a jump to line 2
    assert list(after.allowed_next([JUMP_TOKEN, "<file1>", "<#2>"])) == [EOS]
    assert set(AfterLocation(bound, 2).allowed_next([EDIT_TOKEN, "<L1>"])) == set(bound.allowed_next([EDIT_TOKEN, "<L1>"]))


def test_a_location_target_is_the_location_prefix_then_eos(tags_domain):
    tokenizer = tags_domain.build_tokenizer()
    location, action = Featurizer(tags_domain, tokenizer, 120, "location"), Featurizer(tags_domain, tokenizer, 120)
    close = Action("close", target="b")
    assert location.tokens(location.target_ids(close)) == ["@close", EOS]
    assert action.tokens(action.target_ids(close)) == ["@close", 'target="b"', EOS]
    assert location.tokens(location.target_ids(NO_EDIT)) == [NO_EDIT_TOKEN, EOS]


def test_a_run_resumes_only_with_the_target_it_started_with(tmp_path):
    from nep_core.training.run_folder import RunFolder

    settings = {"domain": "tags", "preset": "tiny", "base_model": None, "data": None, "batch_size": 32, "seed": 0}
    before_targets = RunFolder(tmp_path / "old")
    before_targets.start_fresh(settings)  # a run from before the target was recorded: it trained on actions
    before_targets.check_resumable({**settings, "target": "action"})
    with pytest.raises(NepError, match="started with target='action', not 'location'; resume with the same --target"):
        before_targets.check_resumable({**settings, "target": "location"})
    location = RunFolder(tmp_path / "location")
    location.start_fresh({**settings, "target": "location"})
    with pytest.raises(NepError, match="started with target='location', not 'action'"):
        location.check_resumable({**settings, "target": "action"})


# -- a location model ----------------------------------------------------------------------------


def test_a_location_model_decodes_only_location_prefixes_whose_probabilities_sum_to_one(location_checkpoint, tags_domain, tags_sessions):
    predictor = ModelPredictor(load_checkpoint(location_checkpoint, "tags"), tags_domain)
    kinds = {spec.token for spec in tags_domain.action_space.kinds if spec.edit}
    for context in random_contexts(12, seed=2, sessions=tags_sessions[:20]):
        prediction = predictor.predict(context, k=5)
        assert {suggestion.action.kind for suggestion in prediction.suggestions} == {LOCATION_KIND}
        assert {location_tokens(suggestion.action) for suggestion in prediction.suggestions} == {(kind,) for kind in kinds}
        assert sum(suggestion.probability for suggestion in prediction.suggestions) + prediction.p_no_edit == pytest.approx(1.0, abs=1e-5)
        best = prediction.suggestions[0]
        assert predictor.sequence_logprob(context, best.action) == pytest.approx(math.log(best.probability), abs=1e-4)


# -- the two-stage predictor ---------------------------------------------------------------------


def test_two_stage_suggestions_start_with_a_predicted_location_and_multiply_the_probabilities(two_stage, tags_domain, tags_sessions):
    space, edits = tags_domain.action_space, tags_edits(tags_domain)
    compared = 0
    for context in random_contexts(16, seed=4, sessions=tags_sessions[:20]):
        where = two_stage.locator.predict(context, 2)
        prediction = two_stage.predict(context, 2)
        assert prediction.p_no_edit == pytest.approx(where.p_no_edit, rel=1e-6)
        if where.best.is_no_edit:
            assert prediction.suggestions == [] and prediction.details["stage"] == "location"
            continue
        located = {location_tokens(suggestion.action): suggestion.probability for suggestion in where.suggestions}
        single = {action: math.exp(two_stage.editor.sequence_logprob(context, action)) for action in edits}
        expected = {}
        for action in edits:
            prefix = tuple(space.encode(action)[:1])
            if prefix in located:  # P(location) × P(content | location) under the edit model
                kind = sum(probability for other, probability in single.items() if other.kind == action.kind)
                expected[action] = located[prefix] * single[action] / kind
        best = sorted((value for value in expected.values() if value > where.p_no_edit), reverse=True)[:2]  # only edits shown above NO_EDIT
        assert [suggestion.probability for suggestion in prediction.suggestions] == pytest.approx(best, rel=1e-4)
        for suggestion in prediction.suggestions:
            assert tuple(space.encode(suggestion.action)[:1]) in located
            assert expected[suggestion.action] == pytest.approx(suggestion.probability, rel=1e-4)
        compared += 1
    assert compared >= 8


def test_predict_from_finishes_a_prefix_that_can_only_end_without_running_the_model(two_stage, tags_sessions):
    """A location that is a whole action (a code jump) needs no forward pass of the edit model."""
    context = random_contexts(1, seed=1, sessions=tags_sessions)[0]
    whole = two_stage.editor.predict_from(context, {("@close", 'target="a"'): 0.4}, 3)
    assert whole.details["steps"] == 0 and whole.details["prompt_tokens"] == 0
    assert [(s.action, s.probability) for s in whole.suggestions] == [(Action("close", target="a"), pytest.approx(0.4))]
    mixed = two_stage.editor.predict_from(context, {("@close", 'target="a"'): 0.4, ("@open",): 0.3}, 3)
    assert mixed.details["steps"] >= 1 and mixed.details["prompt_tokens"] > 0
    assert mixed.suggestions[0].action == Action("close", target="a") and len(mixed.suggestions) == 3
    assert two_stage.editor.predict_from(context, {("@open",): 0.3}, 3, stop=lambda: True) is None
    floored = two_stage.editor.predict_from(context, {("@close", 'target="a"'): 0.4, ("@open",): 0.3}, 3, floor=0.35)
    assert floored.details["steps"] == 0  # the @open location cannot beat a P(NO_EDIT) of 0.35: not searched
    assert [s.action for s in floored.suggestions] == [Action("close", target="a")]
    below = two_stage.editor.predict_from(context, {("@open",): 0.9}, 3, floor=0.2)
    assert below.suggestions and all(s.probability > 0.2 for s in below.suggestions)


def test_the_no_edit_fast_path_never_runs_the_edit_model(trained_location_model, edit_checkpoint, tags_domain, held_out, monkeypatch):
    two_stage = load_predictor(str(edit_checkpoint), tags_domain, location_model=str(trained_location_model))
    calls = []
    continue_location = two_stage.editor.predict_from
    monkeypatch.setattr(two_stage.editor, "predict_from", lambda *args, **kwargs: calls.append(1) or continue_location(*args, **kwargs))
    stages = {"location": 0, "edit": 0}
    for context in [example.context for example in held_out if example.target.is_no_edit] + [example.context for example in held_out[:40]]:
        before = len(calls)
        prediction = two_stage.predict(context, 3)
        stages[prediction.details["stage"]] += 1
        if prediction.details["stage"] == "location":
            assert len(calls) == before and prediction.suggestions == [] and prediction.best.is_no_edit
        else:
            assert len(calls) == before + 1
    assert stages["location"] >= 3 and stages["edit"] >= 3, stages


def test_mismatched_or_wrong_checkpoints_are_one_line_errors(tmp_path, edit_checkpoint, location_checkpoint, tags_domain):
    other_domain = make_location_model(save_random_checkpoint(tmp_path / "other", tags_domain, meta_domain="krita"))
    with pytest.raises(NepError, match="the two stages must be of the same domain"):
        load_predictor(str(edit_checkpoint), tags_domain, location_model=str(other_domain))
    with pytest.raises(NepError, match="not a location model"):
        load_predictor(str(edit_checkpoint), tags_domain, location_model=str(edit_checkpoint))
    with pytest.raises(NepError, match="is a location model"):
        load_predictor(str(location_checkpoint), tags_domain, location_model=str(location_checkpoint))
    with pytest.raises(NepError, match="pass it as --location-model"):
        load_predictor(str(location_checkpoint), tags_domain)
    with pytest.raises(NepError, match="not the baseline 'ngram'"):
        load_predictor("ngram", tags_domain, location_model=str(location_checkpoint))
    with pytest.raises(NepError, match="no such model folder"):
        load_predictor(str(edit_checkpoint), tags_domain, location_model=str(tmp_path / "missing"))
    with pytest.raises(NepError, match="not a location model"):
        TwoStagePredictor(*(ModelPredictor(load_checkpoint(edit_checkpoint, "tags"), tags_domain) for _ in range(2)))
    result = nep("eval", "--domain", "tags", "--model", str(edit_checkpoint), "--location-model", str(other_domain))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "same domain" in result.stderr


# -- a real location model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_location_model(tmp_path_factory):
    """A tiny location model trained on the tags data (about a minute on 2 cores)."""
    from nep_core.training import TrainConfig, train

    out = tmp_path_factory.mktemp("trained-location") / "run"
    return train(TrainConfig(domain="tags", preset="tiny", max_steps=200, val_every=200, out=out, progress=False, target="location"))


@pytest.fixture(scope="module")
def held_out(tags_domain):
    from nep_core.evaluation import load_eval_data

    return load_eval_data(tags_domain, None, "test", 200).examples


def test_training_with_the_location_target_learns_where_the_next_edit_goes(trained_location_model, tags_domain, held_out):
    meta = read_meta(trained_location_model)
    assert meta["target"] == "location" and meta["max_target_tokens"] <= 3
    predictor = ModelPredictor(load_checkpoint(trained_location_model, "tags"), tags_domain)
    located = LocationSpace(tags_domain.action_space)
    right = sum(located.encode(predictor.predict(example.context, 1).best) == located.encode(example.target) for example in held_out)
    assert right / len(held_out) > 0.65, right / len(held_out)  # the likeliest location alone (write) is right half the time
