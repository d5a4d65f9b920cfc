"""Fine-tuning a local pretrained model: its tokenizer gains the domain's tokens, its embeddings grow to match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from nep_core.action_space import BOS, EOS, PAD, SEP, SPECIAL_TOKENS, UNK
from nep_core.errors import NepError, error_reason

if TYPE_CHECKING:
    from nep_core.domain import Domain


def check_base_model(path: Path) -> dict:
    """The base model's ``config.json``; a clear error when ``path`` is not a local HF model folder."""
    path = Path(path)
    if not path.is_dir():
        raise NepError(f"--base-model {path}: no such folder; pass a local Hugging Face model folder (with config.json)")
    config_file = path / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NepError(f"--base-model {path}: no config.json there; pass a folder written by save_pretrained") from None
    except (OSError, ValueError, RecursionError) as error:
        raise NepError(f"--base-model {config_file}: unreadable ({error})") from None
    if not isinstance(config, dict):
        raise NepError(f"--base-model {config_file}: not a model config")
    return config


def domain_tokens(domain: Domain) -> list[str]:
    """The tokens NEP writes for ``domain``: special tokens, then action-space and encoder vocabulary."""
    seen: dict[str, None] = {}
    for token in [*SPECIAL_TOKENS, *domain.action_space.vocabulary(), *domain.encoder.vocabulary()]:
        seen.setdefault(token, None)
    return list(seen)


def load_base_tokenizer(path: Path, domain: Domain):
    """The base model's tokenizer with every missing domain token added as a whole token."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    except Exception as error:  # transformers raises OSError, ValueError, KeyError... for broken folders
        raise NepError(f"--base-model {path}: cannot load its tokenizer ({error_reason(error)})") from None
    vocab = tokenizer.get_vocab()
    specials = [token for token in SPECIAL_TOKENS if token not in vocab]
    tokenizer.add_tokens(specials, special_tokens=True)
    tokenizer.add_tokens([token for token in domain_tokens(domain) if token not in vocab and token not in specials])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = PAD
    if tokenizer.unk_token is None:
        tokenizer.unk_token = UNK
    return tokenizer


def load_base_model(path: Path, tokenizer):
    """The pretrained causal LM in float32, its embeddings resized to ``tokenizer`` and NEP's ids set."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, use_safetensors=True)
    except Exception as error:
        raise NepError(f"--base-model {path}: cannot load the model ({error_reason(error)})") from None
    if model.get_input_embeddings().weight.shape[0] != len(tokenizer):
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in (("bos", BOS), ("eos", EOS), ("sep", SEP))}
    model.config.bos_token_id = ids["bos"]
    model.config.eos_token_id = ids["eos"]
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.bos_token_id = ids["bos"]
        model.generation_config.eos_token_id = ids["eos"]
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def max_positions(config: dict) -> int:
    """The longest sequence a base model takes, from its config (2048 when it does not say)."""
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = config.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return 2048
