"""``load_predictor``: a checkpoint folder or a baseline name to a ready ``Predictor``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from nep_core.errors import NepError
from nep_core.inference.baselines import MAX_NGRAM_ORDER, BaselinePredictor, MostFrequent, NGram, RepeatLast
from nep_core.inference.predictor import Predictor

if TYPE_CHECKING:
    from nep_core.domain import Domain
    from nep_core.examples import Example
    from nep_core.inference.decoder import DecodeSettings

BASELINES = ("repeat-last", "most-frequent", "ngram")
"""Baseline names ``--model`` accepts; ``ngram:N`` sets the n-gram order (default 3)."""


def is_baseline(spec: str) -> bool:
    return spec in BASELINES or spec.startswith("ngram:")


def make_baseline(spec: str, domain: Domain) -> BaselinePredictor:
    """An unfitted baseline by name: ``repeat-last``, ``most-frequent``, ``ngram`` or ``ngram:ORDER``."""
    if spec == "repeat-last":
        return RepeatLast(domain)
    if spec == "most-frequent":
        return MostFrequent(domain)
    if spec == "ngram":
        return NGram(domain)
    if spec.startswith("ngram:"):
        order = spec.partition(":")[2]
        if not (order.isascii() and order.isdigit()) or int(order) < 1:
            raise NepError(f"'{spec}': the n-gram order must be a positive whole number, e.g. ngram:4")
        if int(order) > MAX_NGRAM_ORDER:
            raise NepError(f"'{spec}': the n-gram order must be at most {MAX_NGRAM_ORDER}, e.g. ngram:4")
        return NGram(domain, order=int(order))
    raise NepError(f"'{spec}' is not a baseline (choose from: {', '.join(BASELINES)}, ngram:ORDER)")


def train_examples_for(domain: Domain, data: str | os.PathLike | None = None, progress=None) -> list[Example]:
    """The train split's examples of ``data`` (default: the domain's default dataset, generated on first use, which
    ``progress`` hears of), as training sees them."""
    from nep_core.dataset import load_sessions
    from nep_core.examples import build_examples, split_sessions

    sessions, _ = load_sessions(domain, data, progress=progress)
    examples, _ = build_examples(split_sessions(sessions, domain.examples), domain)
    return examples["train"]


def model_folder(spec: str, domain: Domain, option: str = "--model") -> Path:
    """The folder of the checkpoint ``spec`` (not a baseline); a ``NepError`` naming ``option`` when there is none,
    before anything loads."""
    path = Path(spec).expanduser()
    if not path.exists():
        raise NepError(
            f"{option} {spec}: no such model folder, and not a baseline ({', '.join(BASELINES)}, ngram:ORDER); "
            f"train a model with `nep train --domain {domain.name} --out {spec}`"
        )
    return path


def load_predictor(
    spec: str,
    domain: Domain,
    train_examples: Sequence[Example] | None = None,
    settings: DecodeSettings | None = None,
    device: str = "cpu",
    location_model: str | None = None,
    dtype=None,
    option: str = "--model",
) -> Predictor:
    """A predictor for ``spec``: a checkpoint folder, or a baseline name fitted on ``train_examples``
    (default: the train split of the domain's default dataset); with ``location_model`` (a checkpoint of
    ``nep train --target location``), the ``TwoStagePredictor`` of the two. A checkpoint runs on ``device``
    in ``dtype`` (a ``torch.dtype``; None: as saved). A checkpoint of another domain, a missing folder or an
    unknown name is a ``NepError`` naming ``option``."""
    if location_model is not None:
        from nep_core.inference.two_stage import load_two_stage

        return load_two_stage(spec, location_model, domain, settings, device, dtype)
    if is_baseline(spec):
        baseline = make_baseline(spec, domain)
        if train_examples is None:
            train_examples = train_examples_for(domain)
        return baseline.fit(train_examples)
    path = model_folder(spec, domain, option)
    from nep_core.checkpoint import META_FILE, as_trained, load_checkpoint
    from nep_core.inference.decoder import ModelPredictor

    loaded = load_checkpoint(path, expected_domain=domain.name, device=device, dtype=dtype)
    if loaded.target == "location":
        raise NepError(f"{option} {spec} is a location model: pass it as --location-model, with an edit model as --model")
    return ModelPredictor(loaded, as_trained(domain, loaded.meta, loaded.path / META_FILE), settings, owns_model=True)
