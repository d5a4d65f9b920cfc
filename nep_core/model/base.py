"""Fine-tuning a local pretrained model: its tokenizer gains the domain's tokens, its embeddings grow to match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nep_core.action_space import BOS, EOS, PAD, SEP, SPECIAL_TOKENS, UNK
from nep_core.errors import NepError, error_reason

if TYPE_CHECKING:
    from nep_core.domain import Domain


WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
PICKLED_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
LOCAL_ONLY = {"trust_remote_code": False, "local_files_only": True}
"""Given to every ``from_pretrained``: no code from the model folder (a config's ``auto_map``), nothing downloaded."""


def remote_code_problem(path: Path, where: str) -> NepError | None:
    """The one line for a model folder whose ``config.json`` or ``tokenizer_config.json`` names Python code of its
    own to run (``auto_map``, which transformers runs once a user types y at its prompt), else None."""
    for name in ("config.json", "tokenizer_config.json"):
        try:
            settings = json.loads((path / name).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            continue  # missing or unreadable: the load that reads it says so
        if isinstance(settings, dict) and "auto_map" in settings:
            return NepError(f"{where}: {name} names Python code of the model folder to run (auto_map), and NEP runs "
                            f"no code from a model folder; use a model that transformers itself implements")
    return None


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "vocab.txt")
"""Files one of which a folder's tokenizer is read from."""


def check_base_model(path: Path, domain: Domain) -> tuple[dict, Any]:
    """The base model's ``config.json`` and its tokenizer (with the domain's tokens), after every check that loads
    no weights: a folder with the config of a causal LM transformers knows, safetensors weights whose shapes fit
    that config, and a tokenizer. A NepError names the path, the problem and the fix."""
    config = read_base_config(path)
    if problem := remote_code_problem(Path(path), f"--base-model {path}"):
        raise problem
    check_weights_fit_config(path, weight_shapes(path))
    return config, load_base_tokenizer(path, domain)


def read_base_config(path: Path) -> dict:
    """The base model's ``config.json``; a clear error when ``path`` is not a local HF causal LM folder."""
    path = Path(path)
    if path.is_file():
        raise NepError(f"--base-model {path} is a file; pass the model folder that holds its config.json and weights")
    if not path.is_dir():
        raise NepError(f"--base-model {path}: no such folder; pass a local Hugging Face model folder (with config.json)")
    config_file = path / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NepError(f"--base-model {path}: no config.json there; pass a folder written by save_pretrained") from None
    except (OSError, ValueError, RecursionError) as error:
        raise NepError(f"--base-model {config_file}: unreadable ({error}); pass a folder written by save_pretrained") from None
    if not isinstance(config, dict):
        raise NepError(f"--base-model {config_file}: not a model config; pass a folder written by save_pretrained")
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise NepError(f"--base-model {config_file}: model_type {model_type!r} is not a causal language model that this "
                       f"transformers knows; pass a causal LM's folder (such as a Llama, Qwen or GPT-2), or upgrade transformers")
    return config


def has_only_pickled_weights(path: Path) -> bool:
    """Whether ``path`` holds pickled weights (``pytorch_model.bin``) and no safetensors ones."""
    return (not (path / WEIGHTS_FILE).is_file() and not (path / WEIGHTS_INDEX).is_file()
            and any((path / name).is_file() for name in PICKLED_WEIGHTS))


def pickled_weights_error(where: str, path: Path) -> NepError:
    """The one line for a model folder whose weights are pickled only: NEP reads safetensors alone; how to convert."""
    return NepError(f"{where}: its weights are pickled (pytorch_model.bin), which could run code when loaded, so "
                    f"only safetensors are read; convert them once: AutoModelForCausalLM.from_pretrained({str(path)!r})"
                    f".save_pretrained({str(path)!r}, safe_serialization=True)")


def weight_shapes(path: Path) -> dict[str, tuple[list[int], str]]:
    """Each tensor's shape and file, read from the safetensors headers (no tensor is loaded); a NepError when the
    folder holds no safetensors weights (pickled ones are refused: loading them could run code) or unreadable ones."""
    from safetensors import safe_open

    index = path / WEIGHTS_INDEX
    if index.is_file():
        try:
            files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, RecursionError, LookupError, TypeError, AttributeError) as error:
            raise NepError(f"--base-model {index}: unreadable ({error_reason(error)}); save the model again with save_pretrained") from None
        missing = [name for name in files if not (path / name).is_file()]
        if missing:
            raise NepError(f"--base-model {path}: {missing[0]}, listed in {WEIGHTS_INDEX}, is missing; copy the whole model folder")
    elif (path / WEIGHTS_FILE).is_file():
        files = [WEIGHTS_FILE]
    elif has_only_pickled_weights(path):
        raise pickled_weights_error(f"--base-model {path}", path)
    else:
        raise NepError(f"--base-model {path}: no {WEIGHTS_FILE} there; pass a folder written by save_pretrained")
    shapes: dict[str, tuple[list[int], str]] = {}
    for name in files:
        try:
            with safe_open(str(path / name), framework="numpy") as weights:
                shapes.update((key, (list(weights.get_slice(key).get_shape()), name)) for key in weights.keys())
        except Exception as error:  # a cut-short or damaged file: safetensors raises its own errors
            raise NepError(f"--base-model {path / name}: cannot be read as safetensors ({error_reason(error)}); "
                           f"copy or save the model again") from None
    return shapes


def check_weights_fit_config(path: Path, shapes: dict[str, tuple[list[int], str]]) -> None:
    """Each weight the model ``config.json`` describes has the shape the config gives it, where the files hold it
    (under its name, with or without the model's prefix); checked on an empty model, before any tensor is loaded."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(str(path), **LOCAL_ONLY)
    except Exception as error:  # a field of the wrong type (transformers checks each)
        raise NepError(f"--base-model {path / 'config.json'}: not a valid model configuration ({error_reason(error)}); "
                       f"pass a folder written by save_pretrained") from None
    if getattr(config, "quantization_config", None):
        return  # quantized weights are stored in other shapes
    try:
        with torch.device("meta"):
            empty = AutoModelForCausalLM.from_config(config)
    except Exception as error:
        raise NepError(f"--base-model {path / 'config.json'}: cannot build the model it describes ({error_reason(error)}); "
                       f"pass a folder written by save_pretrained") from None
    prefix = f"{empty.base_model_prefix}." if empty.base_model_prefix else ""
    for name, tensor in empty.state_dict().items():
        found = next((shapes[key] for key in (name, name.removeprefix(prefix), prefix + name) if key in shapes), None)
        if found is not None and found[0] != list(tensor.shape):
            text = config.get_text_config()
            sizes = ", ".join(f"{key} {getattr(text, key)}" for key in ("vocab_size", "hidden_size") if hasattr(text, key))
            raise NepError(f"--base-model {path}: its weights do not fit its config.json: {name} is {_shape(found[0])} in {found[1]}, "
                           f"where config.json ({sizes}) makes it {_shape(tensor.shape)}; pass a folder whose config.json and "
                           f"weights were saved together (save_pretrained)")


def _shape(shape) -> str:
    return "x".join(str(size) for size in shape)


def domain_tokens(domain: Domain) -> list[str]:
    """The tokens NEP writes for ``domain``: special tokens, then action-space and encoder vocabulary."""
    seen: dict[str, None] = {}
    for token in [*SPECIAL_TOKENS, *domain.action_space.vocabulary(), *domain.encoder.vocabulary()]:
        seen.setdefault(token, None)
    return list(seen)


def has_tokenizer(path: Path) -> bool:
    """Whether the folder ``path`` holds tokenizer files (``TOKENIZER_FILES``)."""
    return any((Path(path) / name).is_file() for name in TOKENIZER_FILES)


def load_base_tokenizer(path: Path, domain: Domain):
    """The base model's tokenizer with every missing domain token added as a whole token."""
    from transformers import AutoTokenizer

    if not has_tokenizer(path):
        raise NepError(f"--base-model {path}: no tokenizer there (tokenizer.json); a base model needs the tokenizer it was "
                       f"trained with: save it into the folder with tokenizer.save_pretrained(\"{path}\")")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), **LOCAL_ONLY)
    except Exception as error:  # transformers raises OSError, ValueError, KeyError... for broken folders
        raise NepError(f"--base-model {path}: cannot load its tokenizer ({error_reason(error)}); save the tokenizer the model was "
                       f"trained with into the folder with tokenizer.save_pretrained(\"{path}\")") from None
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
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, use_safetensors=True, **LOCAL_ONLY)
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
