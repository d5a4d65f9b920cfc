"""The model predictor: grammar-constrained search over a KV cache, checked against brute force."""

from __future__ import annotations

import math

import pytest
import torch

from inference_helpers import check_time_key, random_contexts, retimed, save_random_checkpoint
from nep_core.action_space import PAD, UNK
from nep_core.actions import NO_EDIT, Action
from nep_core.checkpoint import load_checkpoint
from nep_core.errors import NepError
from nep_core.inference import DecodeSettings, ModelPredictor, load_predictor
from nep_core.inference.grammar import GrammarStep
from nep_core.session import Context


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tags_domain):
    return save_random_checkpoint(tmp_path_factory.mktemp("tiny") / "model", tags_domain, seed=1)


@pytest.fixture(scope="module")
def loaded(checkpoint, tags_domain):
    return load_checkpoint(checkpoint, expected_domain="tags")


@pytest.fixture(scope="module")
def predictor(loaded, tags_domain):
    return ModelPredictor(loaded, tags_domain)


def all_edits(domain) -> list[Action]:
    """Every edit the tags action space can write."""
    space = domain.action_space
    actions = []
    for spec in space.kinds:
        if not spec.edit:
            continue
        (slot,) = spec.slots
        for value in slot.values:
            fields = {"target": value} if slot.name == "target" else {"args": {slot.name: value}}
            actions.append(space.validate(Action(spec.kind, **fields)))
    return actions


def test_every_suggestion_is_a_valid_edit_even_when_the_model_prefers_invalid_tokens(loaded, tags_domain, tags_sessions):
    """A random model whose logits favour tokens that are no action at all: the grammar still wins."""
    model = loaded.model
    embeddings = model.get_input_embeddings().weight
    original = embeddings.detach().clone()
    vocab = loaded.tokenizer.get_vocab()
    try:
        with torch.no_grad():
            for token in (PAD, UNK, "dt>60", "<bos>"):
                embeddings[vocab[token]] *= 40.0  # tied: these rows now dominate the output logits
        predictor = ModelPredictor(loaded, tags_domain)
        space = tags_domain.action_space
        contexts = random_contexts(60, seed=7, sessions=tags_sessions[:30])
        for context in contexts:
            prediction = predictor.predict(context, k=5)
            assert 1 <= len(prediction.suggestions) <= 5
            for suggestion in prediction.suggestions:
                assert not suggestion.action.is_no_edit and suggestion.action.edit
                assert space.validate(suggestion.action) == suggestion.action
                assert suggestion.label == space.describe(suggestion.action)
            assert prediction.details["exact"] and "undecodable" not in prediction.details
    finally:
        with torch.no_grad():
            embeddings.copy_(original)


def test_probabilities_are_ordered_and_sum_to_at_most_one(predictor, tags_sessions):
    for context in random_contexts(20, seed=3, sessions=tags_sessions[:20]):
        prediction = predictor.predict(context, k=4)
        probabilities = [suggestion.probability for suggestion in prediction.suggestions]
        assert probabilities == sorted(probabilities, reverse=True)
        assert all(0.0 < p <= 1.0 for p in probabilities) and 0.0 < prediction.p_no_edit <= 1.0
        assert sum(probabilities) + prediction.p_no_edit <= 1.0 + 1e-6
        assert prediction.latency_ms > 0


def test_whole_space_sums_to_one_with_grammar_normalization_and_less_without(loaded, tags_domain, tags_sessions):
    contexts = random_contexts(10, seed=4, sessions=tags_sessions[:10])
    normalized = ModelPredictor(loaded, tags_domain)
    raw = ModelPredictor(loaded, tags_domain, DecodeSettings(grammar_normalized=False))
    edits = len(all_edits(tags_domain))
    for context in contexts:
        whole = normalized.predict(context, k=100)
        assert len(whole.suggestions) == edits
        assert sum(s.probability for s in whole.suggestions) + whole.p_no_edit == pytest.approx(1.0, abs=1e-5)
        unnormalized = raw.predict(context, k=100)
        assert len(unnormalized.suggestions) == edits
        assert sum(s.probability for s in unnormalized.suggestions) + unnormalized.p_no_edit < 1.0 - 1e-3


@pytest.mark.parametrize("normalized", [True, False])
def test_search_finds_the_brute_force_top_k_with_kv_cache_scores_equal_to_a_full_forward(loaded, tags_domain, tags_sessions, normalized):
    """Score every action by a full forward pass without a cache; the cached search must agree exactly."""
    predictor = ModelPredictor(loaded, tags_domain, DecodeSettings(grammar_normalized=normalized))
    edits = all_edits(tags_domain)
    for context in random_contexts(8, seed=5, sessions=tags_sessions[:10]):
        scores = {edit: math.exp(predictor.sequence_logprob(context, edit)) for edit in edits}
        expected = sorted(scores.items(), key=lambda item: -item[1])[:3]
        prediction = predictor.predict(context, k=3)
        assert [s.action for s in prediction.suggestions] == [action for action, _ in expected]
        for suggestion, (_, probability) in zip(prediction.suggestions, expected):
            assert suggestion.probability == pytest.approx(probability, rel=1e-4)
        assert prediction.p_no_edit == pytest.approx(math.exp(predictor.sequence_logprob(context, NO_EDIT)), rel=1e-4)
        assert prediction.details["exact"]


def test_a_narrow_beam_says_when_it_may_have_missed_something(loaded, tags_domain, tags_sessions):
    wide = ModelPredictor(loaded, tags_domain)
    narrow = ModelPredictor(loaded, tags_domain, DecodeSettings(beam_width=1))
    flagged = 0
    for context in random_contexts(20, seed=6, sessions=tags_sessions[:10]):
        reference = wide.predict(context, k=1)
        guess = narrow.predict(context, k=1)
        if guess.details["exact"]:
            assert [s.action for s in guess.suggestions] == [s.action for s in reference.suggestions]
        else:
            flagged += 1
    assert flagged > 0  # with one live hypothesis among three kinds, some searches must be cut


def test_the_beam_width_defaults_to_the_domains(loaded, tags_domain, tags_sessions):
    import dataclasses

    narrow_domain = dataclasses.replace(tags_domain, beam_width=1)
    by_domain = ModelPredictor(loaded, narrow_domain)
    by_setting = ModelPredictor(loaded, tags_domain, DecodeSettings(beam_width=1))
    contexts = random_contexts(20, seed=6, sessions=tags_sessions[:10])
    cut = [by_domain.predict(context, k=1).details["exact"] for context in contexts]
    assert cut == [by_setting.predict(context, k=1).details["exact"] for context in contexts]
    assert not all(cut)  # the domain's beam of one was used: some searches were cut
    assert all(ModelPredictor(loaded, tags_domain).predict(context, k=1).details["exact"] for context in contexts[:5])


def test_top_k_lists_nest(predictor, tags_sessions):
    context = random_contexts(1, seed=8, sessions=tags_sessions[:5])[0]
    lists = {k: predictor.predict(context, k=k).suggestions for k in (1, 2, 5)}
    assert [len(lists[k]) for k in (1, 2, 5)] == [1, 2, 5]
    assert lists[5][:2] == lists[2] and lists[2][:1] == lists[1]


def test_prefix_reuse_gives_the_same_answers_as_a_fresh_prefill(loaded, tags_domain, tags_sessions):
    reusing = ModelPredictor(loaded, tags_domain)
    fresh = ModelPredictor(loaded, tags_domain, DecodeSettings(reuse_prefix=False))
    session = max(tags_sessions[:20], key=lambda session: len(session.events))
    reused = []
    for cut in range(1, min(len(session.events), 25) + 1):
        context = Context(history=session.events[:cut], session_id=session.id)
        left, right = reusing.predict(context, k=3), fresh.predict(context, k=3)
        assert [s.action for s in left.suggestions] == [s.action for s in right.suggestions]
        for a, b in zip(left.suggestions, right.suggestions):
            assert a.probability == pytest.approx(b.probability, rel=1e-4)
        assert left.p_no_edit == pytest.approx(right.p_no_edit, rel=1e-4)
        assert right.details["reused_tokens"] == 0
        reused.append(left.details["reused_tokens"])
    assert sum(count > 0 for count in reused) >= len(reused) - 1  # all but the first request reuse a prefix
    again = reusing.predict(Context(history=session.events[:cut], session_id=session.id), k=3)
    assert again.details["reused_tokens"] == again.details["prompt_tokens"]  # the same prompt: nothing to prefill



def test_the_prefill_computes_the_first_steps_logits_only_and_recomputes_the_last_token_for_others(loaded, tags_domain, tags_sessions):
    predictor = ModelPredictor(loaded, tags_domain)
    context = Context(history=tags_sessions[0].events[:6], session_id="s")
    vocab = predictor.model.config.vocab_size
    _, columns = predictor._rows([predictor.masks.step((), predictor.space.for_context(context))])
    assert columns is not None and 0 < len(columns.ids) < vocab
    prompt = predictor.featurizer.prompt_ids(context)
    with torch.inference_mode():
        _, few, reused, _ = predictor._prefill(prompt, "s", columns=columns)
        _, whole, reused_again, _ = predictor._prefill(prompt, "s")  # the same prompt, every logit asked for
        _, expected, _, _ = ModelPredictor(loaded, tags_domain, DecodeSettings(reuse_prefix=False))._prefill(prompt, "t")
    assert few.shape == (1, len(columns.ids)) and whole.shape == (1, vocab)
    assert reused == 0 and reused_again == len(prompt) - 1
    assert torch.allclose(whole, expected, atol=1e-5)
    assert torch.allclose(whole.index_select(1, columns.ids), few, atol=1e-5)


def test_finished_actions_and_their_labels_are_remembered(predictor, tags_sessions):
    context = Context(history=tags_sessions[0].events[:6], session_id="remembered")
    first, again = predictor.predict(context, k=3), predictor.predict(context, k=3)
    assert first.suggestions and all(a.action is b.action for a, b in zip(first.suggestions, again.suggestions))
    assert [s.label for s in first.suggestions] == [predictor.space.describe(s.action) for s in first.suggestions]
    assert predictor._decoded(predictor.space, (UNK,)) is None  # no action: counted as undecodable


@pytest.mark.parametrize("k", [1, 3])
def test_the_lookahead_token_saves_a_forward_and_changes_no_answer(loaded, tags_domain, tags_sessions, k):
    """The prefill also runs the last search's likeliest first token; a first step that keeps only that
    token reads its logits and keys and values instead of running the model."""
    ahead = ModelPredictor(loaded, tags_domain, DecodeSettings(beam_width=1))  # a first step that keeps one token
    plain = ModelPredictor(loaded, tags_domain, DecodeSettings(beam_width=1, lookahead=False))
    assert ahead._fast is not None  # the lookahead needs FastForward's shared-prompt cache
    hits = 0
    for session in [session for session in tags_sessions if len(session.events) >= 10][:4]:
        for cut in range(2, min(len(session.events), 16) + 1):
            context = Context(history=session.events[:cut], session_id=session.id)
            left, right = ahead.predict(context, k=k), plain.predict(context, k=k)
            assert [s.action for s in left.suggestions] == [s.action for s in right.suggestions]
            for a, b in zip(left.suggestions, right.suggestions):
                assert a.probability == pytest.approx(b.probability, rel=1e-4, abs=1e-7)
            assert left.p_no_edit == pytest.approx(right.p_no_edit, rel=1e-4, abs=1e-7)
            assert right.details["looked_ahead"] is False
            hits += left.details["looked_ahead"]
    if k == 3:  # three rows after the first step here: the lookahead cannot stand in for them
        return
    assert hits > 0
    calls = {"ahead": 0, "plain": 0}
    for name, predictor in (("ahead", ahead), ("plain", plain)):
        step = predictor._step
        predictor._step = lambda *args, _step=step, _name=name, **kwargs: (calls.__setitem__(_name, calls[_name] + 1), _step(*args, **kwargs))[1]
        predictor.reset()
        session = max(tags_sessions[:20], key=lambda session: len(session.events))
        for cut in range(2, 14):
            predictor.predict(Context(history=session.events[:cut], session_id=session.id), k=k)
    assert calls["ahead"] < calls["plain"]



def test_grammar_rows_are_the_allowed_columns_of_the_steps_and_are_remembered(predictor, tags_domain):
    """``GrammarMasks.rows``: columns made of each distinct step's ids (or their union, or the whole
    vocabulary), each row allowing exactly its own step's ids once; the same tensors for the same steps
    again."""
    masks = predictor.masks
    space = tags_domain.action_space
    first, opened = masks.step((), space), masks.step(("@open",), space)
    steps = [first, opened, first]  # two rows at one step: one part for both
    bias, columns = masks.rows(steps)
    full = torch.stack([step.bias for step in steps])
    if columns is None:
        assert torch.equal(bias, full)
    else:
        assert bias.shape == (3, len(columns.ids)) and torch.equal(columns.ids, torch.cat(columns.parts))
        if 2 * (len(first.ids) + len(opened.ids)) <= masks.vocab_size:  # one part per distinct step, in the rows' order
            assert len(columns.parts) == 2 and columns.parts[0] is first.ids_tensor and columns.parts[1] is opened.ids_tensor
        for row, step in enumerate(steps):
            allowed = columns.ids[bias[row] == 0].tolist()
            assert allowed == list(step.ids)  # its own ids, each once: no token counted twice
            assert torch.isinf(bias[row][bias[row] != 0]).all()
        assert torch.equal(bias[0], bias[2])
    again, again_columns = masks.rows(list(steps))
    assert again is bias and again_columns is columns
    whole, none = masks.rows(steps, restrict=False)
    assert none is None and torch.equal(whole, full)
    vocab = masks.vocab_size
    half = vocab // 2

    def made(ids) -> GrammarStep:
        return GrammarStep(tuple(ids), False, vocab, masks.device)

    overlapping = [made(range(0, half * 2 // 3)), made(range(half // 3, half))]  # parts add up to more than half; the union is half
    bias, columns = masks.rows(overlapping)
    assert len(columns.parts) == 1 and columns.ids.tolist() == list(range(half))
    for row, step in enumerate(overlapping):
        assert columns.ids[bias[row] == 0].tolist() == list(step.ids)
    many = [made(range(0, half + 1)), made(range(half, vocab))]  # even the union is more than half
    bias, columns = masks.rows(many)
    assert columns is None
    for row, step in enumerate(many):
        assert torch.arange(vocab)[bias[row] == 0].tolist() == list(step.ids)


def test_prefix_reuse_is_kept_per_session_when_sessions_interleave(loaded, tags_domain, tags_sessions):
    reusing = ModelPredictor(loaded, tags_domain, DecodeSettings(prefix_sessions=2))
    fresh = ModelPredictor(loaded, tags_domain, DecodeSettings(reuse_prefix=False))
    first, second, third = [session for session in tags_sessions if len(session.events) >= 12][:3]

    def ask(session, cut):
        return reusing.predict(Context(history=session.events[:cut], session_id=session.id), k=3)

    before = ask(first, 8)
    ask(second, 8)
    after = ask(first, 9)  # the other session's prompt came in between
    assert after.details["reused_tokens"] >= before.details["prompt_tokens"] - 1
    expected = fresh.predict(Context(history=first.events[:9], session_id=first.id), k=3)
    assert [s.action for s in after.suggestions] == [s.action for s in expected.suggestions]
    assert after.p_no_edit == pytest.approx(expected.p_no_edit, rel=1e-4)
    ask(second, 9)
    ask(third, 8)  # three sessions, room for two: the first one's prompt is forgotten
    assert ask(first, 10).details["reused_tokens"] < before.details["prompt_tokens"] - 1


def test_empty_history_bad_k_warmup_and_threads(predictor):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # more than the predictor's one (a pytest-xdist worker starts with one)
    try:
        prediction = predictor.predict(Context(history=[]), k=2)
        assert torch.get_num_threads() == 2  # the one-thread setting is restored after predicting
    finally:
        torch.set_num_threads(threads)
    assert len(prediction.suggestions) == 2
    with pytest.raises(ValueError):
        predictor.predict(Context(history=[]), k=0)
    assert predictor.warmup() > 0
    assert predictor.predict(Context(history=[]), k=1).details["reused_tokens"] == 0  # warmup left no cached prompt


def test_load_predictor_refuses_other_domains_and_missing_folders(tmp_path, tags_domain):
    other = save_random_checkpoint(tmp_path / "other", tags_domain, meta_domain="blender")
    with pytest.raises(NepError, match="checkpoint is for domain 'blender', not 'tags'"):
        load_predictor(str(other), tags_domain)
    with pytest.raises(NepError, match="no such model folder, and not a baseline"):
        load_predictor(str(tmp_path / "missing"), tags_domain)
    with pytest.raises(NepError, match="order must be a positive whole number"):
        load_predictor("ngram:x", tags_domain, train_examples=[])


def test_deciding_by_kind_weighs_no_edit_against_the_whole_kind(loaded, tags_domain, tags_sessions):
    """``decision="kind"``: the first step's probability of a kind is the sum over its actions."""
    from nep_core.inference.predictor import Prediction, Suggestion

    by_sequence = ModelPredictor(loaded, tags_domain)
    by_kind = ModelPredictor(loaded, tags_domain, DecodeSettings(decision="kind"))
    edits = all_edits(tags_domain)
    space = tags_domain.action_space
    for context in random_contexts(12, seed=3, sessions=tags_sessions[:10]):
        prediction = by_kind.predict(context, k=3)
        assert prediction.p_no_edit == pytest.approx(by_sequence.predict(context, k=3).p_no_edit, rel=1e-4)
        kinds = {space.encode(suggestion.action)[0] for suggestion in prediction.suggestions}
        assert len(kinds) == 1  # the search ran within the likeliest kind
        (kind,) = kinds
        mass = sum(math.exp(by_kind.sequence_logprob(context, action)) for action in edits if space.encode(action)[0] == kind)
        assert prediction.kind_probability == pytest.approx(mass, rel=1e-3)
        assert prediction.best.is_no_edit == (prediction.p_no_edit >= prediction.kind_probability)
    close = Suggestion(Action("close", target="a"), 0.2)
    assert Prediction([close], 0.3).best.is_no_edit  # one action loses to NO_EDIT...
    assert Prediction([close], 0.3, kind_probability=0.6).best == close.action  # ...its kind does not


def test_an_interruptible_prediction_stops_when_asked_and_otherwise_predicts(predictor, tags_sessions):
    context = random_contexts(1, seed=11, sessions=tags_sessions[:5])[0]
    assert predictor.predict_interruptible(context, 3, stop=lambda: True) is None
    whole = predictor.predict_interruptible(context, 3, stop=lambda: False)
    expected = predictor.predict(context, 3)
    assert [s.action for s in whole.suggestions] == [s.action for s in expected.suggestions]
    assert whole.p_no_edit == pytest.approx(expected.p_no_edit, rel=1e-5)


def test_the_input_key_is_the_encoders_time_key_and_equal_keys_predict_alike(predictor, tags_domain, tags_sessions):
    """The server compares input keys to serve an accept from its speculation: they must be cheap and sufficient."""
    unchanged, changed = check_time_key(tags_domain.encoder, random_contexts(30, seed=5, sessions=tags_sessions))
    assert unchanged > 20 and changed > 20
    import random

    rng = random.Random(2)
    contexts = [context for context in random_contexts(20, seed=6, sessions=tags_sessions) if len(context.history) > 2]
    same = 0
    for context in contexts:
        key = predictor.input_key(context)
        assert key == ("times", tags_domain.encoder.time_key(context))
        other = retimed(context, rng, last_only=True)
        if predictor.input_key(other) == key:
            same += 1
            assert predictor.predict(other, 3).to_json()["suggestions"] == predictor.predict(context, 3).to_json()["suggestions"]
    assert same > 0
