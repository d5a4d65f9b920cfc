"""FastForward computes what the `transformers` Llama forward computes, and the decoder's answers
do not change with it."""

from __future__ import annotations

import copy

import pytest
import torch
from inference_helpers import random_contexts, save_random_checkpoint
from transformers import DynamicCache

from nep_core.checkpoint import load_checkpoint
from nep_core.inference import DecodeSettings, ModelPredictor
from nep_core.inference.decoder import cache_argument
from nep_core.inference import beam_cache
from nep_core.inference.beam_cache import SharedPrefixCache
from nep_core.inference.fast_forward import FastForward


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, tags_domain):
    folder = save_random_checkpoint(tmp_path_factory.mktemp("fast") / "model", tags_domain, seed=3)
    return load_checkpoint(folder, expected_domain="tags")


def both_forwards(loaded, seed: int, length: int):
    """The model, its FastForward, a seeded generator, ``length`` random token ids and two empty caches."""
    model = loaded.model.eval()
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, model.config.vocab_size, (1, length), generator=generator)
    return model, FastForward(model), generator, ids, DynamicCache(config=model.config), DynamicCache(config=model.config)


def test_logits_and_cache_match_the_model_through_prefill_continuation_and_batched_steps(loaded):
    model, fast, generator, ids, theirs, mine = both_forwards(loaded, seed=0, length=40)
    vocab = model.config.vocab_size
    with torch.inference_mode():
        for chunk in (ids[:, :25], ids[:, 25:]):  # a fresh prompt, then a continuation (masked) on its cache
            expected = model(input_ids=chunk, **{cache_argument(model): theirs}, use_cache=True).logits[:, -1].float()
            assert torch.allclose(fast(chunk, mine), expected, atol=1e-5)
        for left, right in zip(theirs.layers, mine.layers):
            assert torch.allclose(left.keys, right.keys, atol=1e-6) and torch.allclose(left.values, right.values, atol=1e-6)
        rows = torch.tensor([0, 0, 0])
        theirs.batch_select_indices(rows)
        mine.batch_select_indices(rows)
        step = torch.randint(5, vocab, (3, 1), generator=generator)
        expected = model(input_ids=step, **{cache_argument(model): theirs}, use_cache=True).logits[:, -1].float()
        assert torch.allclose(fast(step, mine), expected, atol=1e-5)
        assert mine.get_seq_length() == theirs.get_seq_length() == 41



@pytest.mark.parametrize("copied_prefix_tokens", [0, beam_cache.COPIED_PREFIX_TOKENS])
def test_rows_over_a_shared_prompt_see_what_rows_of_a_copied_cache_see(loaded, monkeypatch, copied_prefix_tokens):
    """SharedPrefixCache: the search's rows read one copy of the prompt; logits match the model's own
    forward on a re-batched DynamicCache through several-token continuations, re-selection and steps,
    whether one-token steps attend over per-row copies of the (short) prompt or over the shared one."""
    monkeypatch.setattr(beam_cache, "COPIED_PREFIX_TOKENS", copied_prefix_tokens)
    model, fast, generator, prompt, theirs, prefix = both_forwards(loaded, seed=4, length=30)
    vocab = model.config.vocab_size
    with torch.inference_mode():
        model(input_ids=prompt, **{cache_argument(model): theirs}, use_cache=True)
        fast(prompt, prefix)
        kept = [(layer.keys.clone(), layer.values.clone()) for layer in prefix.layers]
        theirs.batch_select_indices(torch.zeros(3, dtype=torch.long))
        mine = SharedPrefixCache(prefix, rows=3)
        steps = [
            torch.randint(5, vocab, (3, 4), generator=generator),
            torch.tensor([2, 0, 0, 1]),
            torch.randint(5, vocab, (4, 1), generator=generator),
            torch.tensor([3, 1]),
            torch.randint(5, vocab, (2, 1), generator=generator),
        ]
        for step in steps:
            if step.dim() == 1:  # re-select rows, one of them twice, as the search does
                theirs.batch_select_indices(step)
                mine.batch_select_indices(step)
                continue
            expected = model(input_ids=step, **{cache_argument(model): theirs}, use_cache=True).logits[:, -1].float()
            assert torch.allclose(fast(step, mine), expected, atol=1e-5)
        assert mine.get_seq_length() == theirs.get_seq_length() == 36
    for (keys, values), layer in zip(kept, prefix.layers):  # the prompt's cache is never written
        assert torch.equal(keys, layer.keys) and torch.equal(values, layer.values)


def test_the_decoder_gives_the_same_answers_with_and_without_it(loaded, tags_domain, tags_sessions):
    fast = ModelPredictor(loaded, tags_domain, DecodeSettings(fast_forward=True))
    plain = ModelPredictor(loaded, tags_domain, DecodeSettings(fast_forward=False))
    assert fast._fast is not None and plain._fast is None
    for context in random_contexts(25, seed=5, sessions=tags_sessions[:20]):
        left, right = fast.predict(context, k=3), plain.predict(context, k=3)
        assert [s.action for s in left.suggestions] == [s.action for s in right.suggestions]
        for a, b in zip(left.suggestions, right.suggestions):
            assert a.probability == pytest.approx(b.probability, rel=1e-4, abs=1e-7)
        assert left.p_no_edit == pytest.approx(right.p_no_edit, rel=1e-4, abs=1e-7)


def test_only_models_it_computes_exactly_are_supported(loaded):
    model = loaded.model.eval()
    assert FastForward.supports(model)
    for change in ({"attention_bias": True}, {"hidden_act": "gelu"}, {"rope_parameters": {"rope_type": "linear", "rope_theta": 1e4, "factor": 2.0}}, {"model_type": "qwen2"}):
        other = copy.copy(model)
        other.config = copy.deepcopy(model.config)
        for name, value in change.items():
            setattr(other.config, name, value)
        assert not FastForward.supports(other), change
    with pytest.raises(ValueError):
        FastForward(torch.nn.Linear(2, 2))


def test_logits_of_the_allowed_tokens_only_give_the_same_answers(loaded, tags_domain, tags_sessions, monkeypatch):
    predictor = ModelPredictor(loaded, tags_domain, DecodeSettings(fast_forward=True))
    contexts = random_contexts(25, seed=7, sessions=tags_sessions[:20])
    asked: list[int] = []
    rows = predictor._rows

    def counted(steps):
        bias, chosen = rows(steps)
        asked.append(bias.shape[1])
        return bias, chosen

    monkeypatch.setattr(predictor, "_rows", counted)
    restricted = [predictor.predict(context, k=3) for context in contexts]
    assert asked and min(asked) < predictor.model.config.vocab_size  # the restriction really happened
    monkeypatch.setattr(predictor, "_rows", lambda steps: predictor.masks.rows(steps, restrict=False))
    predictor.reset()
    for context, left in zip(contexts, restricted):
        right = predictor.predict(context, k=3)
        assert [s.action for s in left.suggestions] == [s.action for s in right.suggestions]
        for a, b in zip(left.suggestions, right.suggestions):
            assert a.probability == pytest.approx(b.probability, rel=1e-5, abs=1e-8)
        assert left.p_no_edit == pytest.approx(right.p_no_edit, rel=1e-5, abs=1e-8)


def test_output_rows_in_use_stay_while_new_column_sets_come_and_go_within_a_byte_budget(loaded, monkeypatch):
    """The first step's columns come back with every request: least recently used sets leave first, once
    the kept rows would pass their budget (a multiple of the output layer's bytes)."""
    from nep_core.inference import fast_forward

    vocab = loaded.model.config.vocab_size
    first = torch.arange(0, vocab, 3)
    monkeypatch.setattr(fast_forward, "OUTPUT_ROWS_BUDGET", (len(first) + 3) / vocab)  # the first set and three single rows
    fast = FastForward(loaded.model.eval())
    kept = fast._output_rows(first)
    assert torch.equal(kept, loaded.model.get_output_embeddings().weight[first])
    others = [torch.tensor([index % vocab]) for index in range(20)]
    for other in others:
        assert fast._output_rows(first) is kept
        fast._output_rows(other)
    assert len(fast._output_cache) == 4 and id(others[0]) not in fast._output_cache  # old sets left
    assert fast._output_bytes == sum(rows.numel() * rows.element_size() for _, _, rows in fast._output_cache.values())
    assert fast._output_bytes <= fast_forward.OUTPUT_ROWS_BUDGET * fast.lm_head.numel() * fast.lm_head.element_size()


def test_columns_in_parts_are_the_logits_of_their_ids_side_by_side(loaded):
    """A grammar ``Columns`` of several parts (an id may be in two): the logits of each part's ids, concatenated."""
    model, fast, generator, ids, _, cache = both_forwards(loaded, seed=6, length=10)
    vocab = model.config.vocab_size
    parts = (torch.tensor([1, 4, 7]), torch.tensor([4, 5]), torch.arange(vocab - 3, vocab))
    with torch.inference_mode():
        whole = fast(ids, cache)
        cache.crop(-1)
        split = fast(ids[:, -1:], cache, parts)
    assert split.shape == (1, 8)
    assert torch.allclose(split, whole.index_select(1, torch.cat(parts)), atol=1e-5)


def test_a_parameter_changed_in_place_is_read_at_the_next_call(loaded):
    model = copy.deepcopy(loaded.model).eval()
    fast = FastForward(model)
    ids = torch.randint(5, model.config.vocab_size, (1, 12), generator=torch.Generator().manual_seed(1))

    def both():
        with torch.inference_mode():
            mine = fast(ids, DynamicCache(config=model.config))
            theirs = model(input_ids=ids, **{cache_argument(model): DynamicCache(config=model.config)}, use_cache=True).logits[:, -1].float()
        return mine, theirs

    before, _ = both()
    with torch.no_grad():  # as an optimizer step changes them (RL trains the model the decoder reads)
        model.model.layers[0].self_attn.k_proj.weight.mul_(1.5)
        model.model.layers[-1].mlp.up_proj.weight.add_(0.05)
    mine, theirs = both()
    assert torch.allclose(mine, theirs, atol=1e-5)
    assert not torch.allclose(mine, before, atol=1e-3)


def test_shared_weights_are_one_copy_and_both_forwards_still_agree(loaded, tags_domain):
    """``share_weights`` (a predictor's own model): the model's projection weights become views of the
    fused copies, so the layers' weights are held once; its own forward computes what it did before."""
    model = copy.deepcopy(loaded.model).eval()
    ids = torch.randint(5, model.config.vocab_size, (2, 16), generator=torch.Generator().manual_seed(5))

    def theirs():
        with torch.inference_mode():
            return model(input_ids=ids, **{cache_argument(model): DynamicCache(config=model.config)}, use_cache=True).logits[:, -1].float()

    before = theirs()
    fast = FastForward(model, share_weights=True)
    fused_storages = {tensor.untyped_storage().data_ptr() for layer in fast.layers for tensor in layer}
    for layer in model.model.layers:
        for projection in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj, layer.self_attn.o_proj,
                           layer.mlp.gate_proj, layer.mlp.up_proj, layer.mlp.down_proj):
            assert projection.weight.untyped_storage().data_ptr() in fused_storages
    with torch.inference_mode():
        mine = fast(ids, DynamicCache(config=model.config))
    assert torch.allclose(theirs(), before, atol=1e-6)
    assert torch.allclose(mine, before, atol=1e-5)
    owned = ModelPredictor(load_checkpoint(loaded.path, expected_domain="tags"), tags_domain, owns_model=True)
    layer = owned.model.model.layers[0]
    assert layer.mlp.down_proj.weight.untyped_storage().data_ptr() == owned._fast.layers[0][5].untyped_storage().data_ptr()
    trained = ModelPredictor(load_checkpoint(loaded.path, expected_domain="tags"), tags_domain)
    assert trained.model.model.layers[0].mlp.down_proj.weight.is_contiguous()  # not owned: left as loaded


def test_in_bfloat16_too(loaded, tags_domain, tags_sessions):
    """The GPU's number type, run here on the CPU: FastForward follows the model's own bfloat16 forward,
    and the predictor loaded in bfloat16 answers (``nep serve --dtype bfloat16``)."""
    model = copy.deepcopy(loaded.model).to(torch.bfloat16).eval()
    fast = FastForward(model)
    ids = torch.randint(5, model.config.vocab_size, (2, 20), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        mine = fast(ids, DynamicCache(config=model.config))
        theirs = model(input_ids=ids, **{cache_argument(model): DynamicCache(config=model.config)}, use_cache=True).logits[:, -1].float()
    assert mine.dtype == torch.float32
    assert torch.allclose(mine, theirs, atol=0.1, rtol=0.05)
    half = ModelPredictor(load_checkpoint(loaded.path, expected_domain="tags", dtype=torch.bfloat16), tags_domain)
    assert next(half.model.parameters()).dtype == torch.bfloat16 and half._fast is not None
    for context in random_contexts(5, seed=11, sessions=tags_sessions[:10]):
        prediction = half.predict(context, k=3)
        total = prediction.p_no_edit + sum(s.probability for s in prediction.suggestions)
        assert 0.0 < total <= 1.0 + 1e-3
