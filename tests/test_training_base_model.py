"""`--base-model PATH`: fine-tune a local pretrained model; its tokenizer gains the domain's tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nep_core.action_space import SPECIAL_TOKENS


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> Path:
    """A tiny 'pretrained' Llama with its own byte-level BPE tokenizer, as save_pretrained writes them."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("base-model")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(["the quick brown fox jumps over the lazy dog", "hello world, hello tags"] * 20, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=1, intermediate_size=64, max_position_embeddings=256)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_fine_tuning_a_base_model_adds_the_domain_tokens(base_model, tmp_path, tags_domain):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from nep_core.checkpoint import load_checkpoint
    from nep_core.features import Featurizer
    from nep_core.training import TrainConfig, train

    base_tokenizer = AutoTokenizer.from_pretrained(base_model)
    out = train(TrainConfig(domain="tags", base_model=base_model, data="synthetic:30", max_steps=6, val_every=3,
                            batch_size=8, out=tmp_path / "run", progress=False))

    tokenizer = AutoTokenizer.from_pretrained(out)
    vocab = tokenizer.get_vocab()
    domain_tokens = [*SPECIAL_TOKENS, *tags_domain.action_space.vocabulary(), *tags_domain.encoder.vocabulary()]
    assert all(token in vocab for token in domain_tokens)
    assert len(tokenizer) == len(base_tokenizer) + len(set(domain_tokens) - set(base_tokenizer.get_vocab()))
    assert tokenizer("hello world")["input_ids"] == base_tokenizer("hello world")["input_ids"]  # the base's own text still reads the same

    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.model_type == "llama" and model.config.hidden_size == 32
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert model.config.eos_token_id == vocab["<eos>"] and model.config.pad_token_id == tokenizer.pad_token_id

    meta = json.loads((out / "nep.json").read_text())
    assert meta["base_model"] == str(base_model.resolve()) and meta["preset"] is None
    assert meta["max_context_tokens"] == 256 - 2 - meta["max_target_tokens"]
    assert meta["training"]["steps"] == 6 and meta["training"]["learning_rate"] == 1e-4

    loaded = load_checkpoint(out, expected_domain="tags")
    featurizer = Featurizer(tags_domain, loaded.tokenizer, loaded.max_context_tokens)
    example_ids = featurizer.prompt_ids(_context(tags_domain))
    assert loaded.tokenizer.unk_token_id not in example_ids[1:-1]  # every context token has its own id

    # A finished run continues with --resume and a larger --max-steps, with the same grown vocabulary.
    train(TrainConfig(domain="tags", base_model=base_model, data="synthetic:30", max_steps=9, val_every=3,
                      batch_size=8, out=tmp_path / "run", resume=True, progress=False))
    meta = json.loads((out / "nep.json").read_text())
    assert meta["training"]["steps"] == 9
    assert len(AutoTokenizer.from_pretrained(out)) == len(tokenizer)


def _context(domain):
    from nep_core.collector import CollectReport
    from nep_core.session import Context

    session = next(iter(domain.collectors["synthetic"].collect("1", CollectReport())))
    return Context(history=session.events[:12])


def test_a_base_model_is_loaded_from_safetensors_only(base_model, tmp_path, tags_domain):
    """Pickled weights (pytorch_model.bin) can run code when loaded: such a folder is refused."""
    import shutil

    from safetensors.torch import load_file

    from nep_core.errors import NepError
    from nep_core.model.base import load_base_model, load_base_tokenizer

    pickled = tmp_path / "pickled"
    shutil.copytree(base_model, pickled)
    weights = pickled / "model.safetensors"
    torch.save(load_file(weights), pickled / "pytorch_model.bin")
    weights.unlink()
    tokenizer = load_base_tokenizer(base_model, tags_domain)
    with pytest.raises(NepError, match=r"--base-model .*pickled: cannot load the model"):
        load_base_model(pickled, tokenizer)
    assert load_base_model(base_model, tokenizer).get_input_embeddings().weight.shape[0] == len(tokenizer)
