"""Checkpoints: a Hugging Face model folder plus ``nep.json``.

``config.json``, ``model.safetensors``, ``tokenizer.json`` (+ config) load with
``AutoModelForCausalLM.from_pretrained``; ``nep.json`` records the domain, the action-space version,
the encoder settings, the training data summary and the metrics at save time.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nep_core.atomic_files import write_json_atomic
from nep_core.errors import NepError, error_reason, first_line
from nep_core.model.base import LOCAL_ONLY, remote_code_problem

META_FILE = "nep.json"
MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
META_VERSION = 1


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    meta: dict[str, Any]
    path: Path

    @property
    def max_context_tokens(self) -> int:
        return int(self.meta.get("max_context_tokens", 256))

    @property
    def target(self) -> str:
        """What the model writes after the prompt: ``action``, or ``location`` for a location model."""
        return str(self.meta.get("target", "action"))


def save_checkpoint(path: str | os.PathLike, model, tokenizer, meta: dict[str, Any]) -> Path:
    """Write the model (safetensors), tokenizer and ``nep.json`` into ``path``.

    The files are written into a staging folder, fsynced and moved in, ``nep.json`` last and removed
    first: a crash part way leaves a folder that does not read as a model (``--resume`` writes it
    again), never a cut-short model beside the ``nep.json`` of the one before."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    staging = path / f".export.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        written = sorted(staging.iterdir())
        for file in written:
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
        (path / META_FILE).unlink(missing_ok=True)
        for file in written:
            os.replace(file, path / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_json_atomic(path / META_FILE, {"nep": META_VERSION, **meta})
    return path


def read_json_object(file: Path, fix: str = "") -> dict[str, Any]:
    """A checkpoint's JSON file (``nep.json``, ``config.json``), which must hold an object; a NepError
    naming it otherwise, ending with ``fix`` (what to do) where the content is bad."""
    then = f"; {fix}" if fix else ""
    if not file.is_file():
        raise NepError(f"{file}: not a regular file; a checkpoint's {file.name} is a JSON file written by `nep train`")
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:
        raise NepError(f"{file}: unreadable ({first_line(error)}){then}") from None
    except OSError as error:
        raise NepError(f"{file}: cannot be read ({error.strerror or first_line(error)})") from None
    if not isinstance(value, dict):
        raise NepError(f"{file}: must hold a JSON object, not a {type(value).__name__}{then}")
    return value


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    meta_path = path / META_FILE
    if path.is_file():
        raise NepError(f"{path} is a file; pass the model folder that holds it ({path.parent})")
    if not path.is_dir():
        from nep_core.inference.factory import is_baseline

        if is_baseline(str(path)):  # `--model ngram` where only a trained checkpoint will do
            raise NepError(f"{path} is a baseline, not a model folder; this needs a checkpoint folder trained by `nep train`")
        raise NepError(f"{path}: no such model folder; train one with `nep train --out {path}`")
    if not meta_path.exists():
        raise NepError(f"{path}: not a NEP checkpoint (no {META_FILE}); train one with `nep train`")
    meta = read_json_object(meta_path)
    if meta.get("nep") != META_VERSION:
        raise NepError(f'{meta_path}: field "nep" must be {META_VERSION}')
    if not isinstance(meta.get("domain"), str) or not meta["domain"]:
        raise NepError(f'{meta_path}: field "domain" must name the domain the model was trained for')
    check_meta_fields(meta, meta_path)
    return meta


def check_meta_fields(meta: dict[str, Any], where: str | os.PathLike = META_FILE) -> None:
    """The fields of ``nep.json`` that loading and serving read, each of the type they are read as;
    a damaged one is a NepError naming ``where`` and the field (each may be absent: the defaults apply)."""
    from nep_core.features import TARGETS

    for name in ("max_context_tokens", "max_target_tokens"):
        value = meta.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise NepError(f'{where}: field "{name}" must be a positive whole number (got {value!r})')
    if "target" in meta and meta["target"] not in TARGETS:
        raise NepError(f'{where}: field "target" must be one of {", ".join(TARGETS)} (got {meta["target"]!r})')
    for name in ("encoder", "metrics", "action_space", "training", "data", "rl"):
        if meta.get(name) is not None and not isinstance(meta[name], dict):
            raise NepError(f'{where}: field "{name}" must be a JSON object (got {type(meta[name]).__name__})')


def read_model_config(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's ``config.json``, checked as ``read_meta`` checks ``nep.json``: there, JSON, and
    right in the fields NEP itself reads (the rest is transformers' to check); a NepError naming the
    file (and the field) otherwise. Transformers reads it for the tokenizer as well as the model, so
    a damaged one was blamed on the tokenizer."""
    config_path = Path(path) / CONFIG_FILE
    if not config_path.exists():
        raise NepError(f"{config_path}: missing; train the model again")
    config = read_json_object(config_path, fix="train the model again")
    if not isinstance(config.get("model_type"), str) or not config["model_type"]:
        raise NepError(f'{config_path}: field "model_type" must name the model\'s architecture, such as "llama" '
                       f'(got {config.get("model_type")!r}); train the model again')
    # the embedding table and the longest prompt; a composite model (Gemma 3, Llama 4) keeps them in its
    # text_config only, where transformers checks them
    for name in ("vocab_size", "max_position_embeddings"):
        value = config.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise NepError(f'{config_path}: field "{name}" must be a positive whole number (got {value!r}); train the model again')
    return config


def check_domain(meta: dict[str, Any], expected: str, where: object, hint: str | None = None) -> None:
    """A NepError naming ``where`` when the checkpoint whose ``nep.json`` is ``meta`` is for another domain
    than ``expected``; ``hint`` says what to pass instead (default: ``--domain`` or a model of ``expected``)."""
    found = meta.get("domain")
    if found != expected:
        hint = hint or f"pass --domain {found} or a {expected} model"
        raise NepError(f"{where}: checkpoint is for domain '{found}', not '{expected}'; {hint}")


def load_checkpoint(path: str | os.PathLike, expected_domain: str | None = None, device: str = "cpu", dtype: Any = None) -> LoadedModel:
    """Load model, tokenizer and meta (the model on ``device``, in ``dtype`` when given: a ``torch.dtype``);
    a checkpoint of another domain is a clear error, and so is a damaged file, named: ``nep.json``,
    then ``config.json`` (which the tokenizer reads too), then the tokenizer's files and the weights."""
    meta = read_meta(path)
    if expected_domain is not None:
        check_domain(meta, expected_domain, path)
    read_model_config(path)
    if problem := remote_code_problem(Path(path), str(path)):
        raise problem
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Loading weights" of a small local model: noise on a terminal
    try:
        config = AutoConfig.from_pretrained(path, **LOCAL_ONLY)
    except Exception as error:  # a field of the wrong type (transformers checks each), an unknown model_type
        raise NepError(f"{Path(path) / CONFIG_FILE}: cannot be read as the model's configuration ({error_reason(error)}); train the model again") from None
    from nep_core.model.base import has_only_pickled_weights, has_tokenizer, pickled_weights_error

    if not has_tokenizer(path):
        raise NepError(f"{path}: no tokenizer there (tokenizer.json); put the checkpoint's own tokenizer files back, or train the model again")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **LOCAL_ONLY)
    except Exception as error:  # transformers raises OSError, ValueError, JSONDecodeError... for damaged files
        raise NepError(f"{path}: cannot load the tokenizer ({error_reason(error)}); train the model again") from None
    check_tokenizer_fits(path, tokenizer, config)
    if has_only_pickled_weights(Path(path)):
        raise pickled_weights_error(str(path), Path(path))
    try:
        model = AutoModelForCausalLM.from_pretrained(path, config=config, use_safetensors=True, **LOCAL_ONLY)
    except Exception as error:  # a missing or cut-short model.safetensors
        raise NepError(f"{path}: cannot load the model ({error_reason(error)}); train the model again") from None
    model.to(device=device, dtype=dtype)
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, meta=meta, path=Path(path))


def check_tokenizer_fits(path: str | os.PathLike, tokenizer: Any, config: Any) -> None:
    """A checkpoint's tokenizer has a token for every row of the model's embeddings, and no more (``nep train``
    sizes the embeddings to its tokenizer, and ``nep rl`` keeps both): another tokenizer put beside the model
    would feed it ids that mean other tokens. A one-line NepError otherwise."""
    rows = getattr(config.get_text_config(), "vocab_size", None)
    if isinstance(rows, int) and rows != len(tokenizer):
        raise NepError(f"{path}: its tokenizer has {len(tokenizer)} tokens but the model's embeddings {rows} rows "
                       f"(config.json vocab_size), so the two were not trained together; put the checkpoint's own "
                       f"tokenizer.json and tokenizer_config.json back, or train the model again")


RESTORABLE = (bool, int, float, str)
"""Types of the encoder settings ``as_trained`` sets back (what ``nep.json`` holds as JSON scalars)."""


def as_trained(domain: Any, meta: dict[str, Any], where: str | os.PathLike = META_FILE) -> Any:
    """``domain`` with its encoder set back to the settings the checkpoint in ``meta`` was trained with
    (``nep.json``'s ``encoder``): a copy with its own encoder and action space, the shared domain left
    as it is. Only settings that are fields of the same encoder class, with scalar values, are set
    back (one of another type is an error naming ``where``); ``domain`` itself when none differs, or
    when the encoder is another class or no dataclass (``encoding_differences`` then names what
    still differs)."""
    saved, encoder = meta.get("encoder") or {}, domain.encoder
    if saved.get("class") != type(encoder).__name__ or not dataclasses.is_dataclass(encoder):
        return domain
    fields = {field.name for field in dataclasses.fields(encoder) if field.init}
    changes = {name: value for name, value in saved.items()
               if name in fields and isinstance(value, RESTORABLE) and getattr(encoder, name) != value}
    for name, value in changes.items():
        current = getattr(encoder, name)
        if isinstance(current, RESTORABLE) and not _same_kind(value, current):
            raise NepError(f'{where}: field "encoder.{name}" must be {type(current).__name__}, got {value!r}')
    if not changes:
        return domain
    if "action_space" in fields:  # its own copy: an encoder may point its action space at itself
        changes["action_space"] = copy.copy(encoder.action_space)
    restored = dataclasses.replace(encoder, **changes)
    shared = getattr(encoder, "action_space", None) is domain.action_space
    return dataclasses.replace(domain, encoder=restored, action_space=restored.action_space if shared else domain.action_space)


def _same_kind(value: Any, current: Any) -> bool:
    """Whether ``value`` can stand where ``current`` is (an int where a float is too, a bool only for a bool)."""
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(current))


def encoding_differences(meta: dict[str, Any], domain: Any) -> list[str]:
    """How ``domain`` reads and writes actions differently from when the checkpoint in ``meta`` was
    trained: another action-space version, or encoder settings that ``as_trained`` could not set back
    (prompts laid out differently, or ``<again>`` offered elsewhere). Such a checkpoint still runs, on
    prompts it was not trained on; retraining fixes it."""
    differences = []
    space = meta.get("action_space") or {}
    if space.get("version") not in (None, domain.action_space.version):
        differences.append(f"action space {space.get('name')} version {space.get('version')}, now {domain.action_space.version}")
    if not meta.get("encoder"):  # a checkpoint saved without them: nothing to compare
        return differences
    saved, current = meta["encoder"], domain.encoder.settings()
    for name in sorted(set(saved) | set(current)):
        if saved.get(name) != current.get(name):
            differences.append(f"encoder {name} {_setting(saved, name)}, now {_setting(current, name)}")
    return differences


def _setting(settings: dict[str, Any], name: str) -> str:
    return repr(settings[name]) if name in settings else "unset"


def update_metrics(path: str | os.PathLike, metrics: dict[str, Any]) -> None:
    """Merge ``metrics`` into ``nep.json`` (atomic rewrite)."""
    meta = read_meta(path)
    meta["metrics"] = {**(meta.get("metrics") or {}), **metrics}
    write_json_atomic(Path(path) / META_FILE, meta)
