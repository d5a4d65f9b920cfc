"""`--base-model PATH`: fine-tune a local pretrained model; its tokenizer gains the domain's tokens."""

from __future__ import annotations

import json
import subprocess
import sys
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


def _variant(base_model: Path, folder: Path, config: dict | None = None, remove: tuple[str, ...] = ()) -> Path:
    """A copy of the base model with ``config`` merged into its config.json and the files ``remove`` left out."""
    import shutil

    shutil.copytree(base_model, folder)
    for name in remove:
        (folder / name).unlink()
    if config:
        file = folder / "config.json"
        file.write_text(json.dumps({**json.loads(file.read_text()), **config}))
    return folder


def _pickled(base_model: Path, folder: Path) -> Path:
    from safetensors.torch import load_file

    _variant(base_model, folder)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    return folder


def _sharded(base_model: Path, folder: Path) -> Path:
    _variant(base_model, folder, remove=("model.safetensors",))
    index = {"metadata": {}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return folder


BAD_BASE_MODELS = {
    "pickled": (_pickled, "{path}: its weights are pickled (pytorch_model.bin), which could run code when loaded, so only "
                          "safetensors are read; convert them once: AutoModelForCausalLM.from_pretrained('{path}')"
                          ".save_pretrained('{path}', safe_serialization=True)"),
    "vocab": (lambda base, folder: _variant(base, folder, {"vocab_size": 1000}),
              "{path}: its weights do not fit its config.json: model.embed_tokens.weight is {rows}x32 in model.safetensors, "
              "where config.json (vocab_size 1000, hidden_size 32) makes it 1000x32"),
    "no tokenizer": (lambda base, folder: _variant(base, folder, remove=("tokenizer.json", "tokenizer_config.json")),
                     "{path}: no tokenizer there (tokenizer.json); a base model needs the tokenizer it was trained with: "
                     "save it into the folder with tokenizer.save_pretrained(\"{path}\")"),
    "a file": (lambda base, folder: _variant(base, folder) / "config.json",
               "{path} is a file; pass the model folder that holds its config.json and weights"),
    "unknown type": (lambda base, folder: _variant(base, folder, {"model_type": "no-such-model"}),
                     "{path}/config.json: model_type 'no-such-model' is not a causal language model that this transformers knows"),
    "no shard": (_sharded, "{path}: model-00001-of-00002.safetensors, listed in model.safetensors.index.json, is missing"),
    "code of its own": (lambda base, folder: _variant(base, folder, {"auto_map": {"AutoModelForCausalLM": "mine.Model"}}),
                        "{path}: config.json names Python code of the model folder to run (auto_map), and NEP runs no code "
                        "from a model folder"),
    "4 positions": (lambda base, folder: _variant(base, folder, {"max_position_embeddings": 4}),
                    "leave no room for context in 4 positions; pass a base model with more positions (--base-model {path} takes 4)"),
}


@pytest.mark.parametrize("case", BAD_BASE_MODELS)
def test_a_bad_base_model_is_one_line_before_the_data_is_read_and_leaves_no_folder(case, base_model, tmp_path, monkeypatch):
    """A pickled, mismatched or tokenizer-less base model was found only after the data was read, and left a
    half-made run folder (tokenizer.json, lightning/run.json) with the parents made for it; transformers' messages
    said `no file named model.safetensors`, `look at the above report!`, or stopped mid-sentence."""
    from nep_core.errors import NepError
    from nep_core.training import TrainConfig, run, train

    make, message = BAD_BASE_MODELS[case]
    path = make(base_model, tmp_path / "base")
    rows = len(json.loads((base_model / "tokenizer.json").read_text())["model"]["vocab"])
    monkeypatch.setattr(run, "prepare_data", lambda *args: pytest.fail("the data was read before the base model was checked"))
    with pytest.raises(NepError) as raised:
        train(TrainConfig(domain="tags", base_model=path, data="synthetic:30", max_steps=2, out=tmp_path / "runs" / "run", progress=False))
    text = str(raised.value)
    assert text.startswith("--base-model ") or case == "4 positions", text
    assert message.format(path=path.resolve(), rows=rows) in text and "\n" not in text, text
    assert not (tmp_path / "runs").exists()


def test_an_empty_base_model_path_is_refused_not_read_as_the_current_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nep_core.cli.main", "train", "--domain", "tags", "--base-model", "",
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == "error: --base-model is empty; pass a local Hugging Face model folder", result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_base_model_that_fails_to_load_after_the_data_leaves_no_folder(base_model, tmp_path, monkeypatch):
    """What the cheap checks cannot see (weights cut short inside) fails once the model loads: the tokenizer and
    lightning/run.json the run wrote by then, and the folders it made, are removed again."""
    from nep_core.errors import NepError
    from nep_core.model import base
    from nep_core.training import TrainConfig, train

    def broken(path, tokenizer):
        raise NepError(f"--base-model {path}: cannot load the model (damaged)")

    monkeypatch.setattr(base, "load_base_model", broken)
    with pytest.raises(NepError, match="cannot load the model"):
        train(TrainConfig(domain="tags", base_model=base_model, data="synthetic:30", max_steps=2, out=tmp_path / "runs" / "run", progress=False))
    assert not (tmp_path / "runs").exists()

    kept = tmp_path / "kept"  # a folder the user made: left, and left as it was
    kept.mkdir()
    (kept / ".gitkeep").write_text("")
    with pytest.raises(NepError, match="cannot load the model"):
        train(TrainConfig(domain="tags", base_model=base_model, data="synthetic:30", max_steps=2, out=kept, progress=False))
    assert [path.name for path in kept.iterdir()] == [".gitkeep"]


def test_a_base_model_with_a_short_context_warns_with_both_lengths(base_model, tmp_path, capsys):
    """A base model of 16 positions cut the encoder's 64-token contexts to 11 without a word."""
    from nep_core.training import TrainConfig, train

    short = _variant(base_model, tmp_path / "short", {"max_position_embeddings": 16})
    out = train(TrainConfig(domain="tags", base_model=short, data="synthetic:30", max_steps=2, val_every=2, batch_size=8,
                            out=tmp_path / "run", progress=False))
    context = json.loads((out / "nep.json").read_text())["max_context_tokens"]
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: --base-model {short.resolve()} takes 16 positions, so contexts are cut from the encoder's 64 tokens "
                        f"to the newest {context}; a base model with {16 + 64 - context} positions or more keeps them whole"], warnings


def test_resuming_a_base_model_run_without_base_model_names_the_missing_option(base_model, tmp_path):
    """It said `was started with preset=None, not 'tiny'; resume with the same --preset`: --preset was never given."""
    from nep_core.errors import NepError
    from nep_core.training.run_folder import RunFolder

    folder = RunFolder(tmp_path / "run")
    folder.lightning.mkdir(parents=True)
    saved = {"domain": "tags", "preset": None, "base_model": str(base_model), "data": None, "batch_size": 32, "seed": 0}
    folder.run_file.write_text(json.dumps(saved))
    with pytest.raises(NepError) as raised:
        folder.check_resumable({**saved, "preset": "tiny", "base_model": None})
    assert str(raised.value) == (f"{folder.root} was started with --base-model {base_model}, not --preset tiny; "
                                 f"resume with --base-model {base_model}, or start a new run with another --out")
    with pytest.raises(NepError, match=f"was started with --base-model {base_model}, not --base-model /elsewhere; resume with --base-model"):
        folder.check_resumable({**saved, "base_model": "/elsewhere"})
