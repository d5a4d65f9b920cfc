"""Two-stage prediction: a location model says where the next edit goes (or NO_EDIT), an edit model writes it.

``TwoStagePredictor`` asks the location model (``nep train --target location``) for its top-k locations
and P(NO_EDIT). When NO_EDIT wins it answers at once, with no suggestions and without running the edit
model (the fast path). Otherwise the edit model (an ordinary ``nep train`` checkpoint) continues each
location (``ModelPredictor.predict_from``): a suggestion's probability is P(location) from the location
model times P(the rest | location) from the edit model, and P(NO_EDIT) is the location model's. Unless
the domain decides by kind, the edit model searches only for edits more probable than that P(NO_EDIT):
the others would not be shown.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Hashable

from nep_core.errors import NepError
from nep_core.inference.predictor import Prediction, Predictor
from nep_core.location_space import location_tokens
from nep_core.session import Context

if TYPE_CHECKING:
    from nep_core.domain import Domain
    from nep_core.inference.decoder import DecodeSettings, ModelPredictor


class TwoStagePredictor(Predictor):
    """A location model and an edit model of the same domain behind the ``Predictor`` interface."""

    name = "two-stage"

    def __init__(self, locator: ModelPredictor, editor: ModelPredictor):
        check_stages(editor.loaded.meta, locator.loaded.meta, str(editor.loaded.path), str(locator.loaded.path))
        self.locator = locator
        self.editor = editor

    def predict(self, context: Context, k: int = 3) -> Prediction:
        return self._predict(context, k, None)

    def predict_interruptible(self, context: Context, k: int, stop: Callable[[], bool]) -> Prediction | None:
        return self._predict(context, k, stop)

    def _predict(self, context: Context, k: int, stop: Callable[[], bool] | None) -> Prediction | None:
        started = time.perf_counter()
        where = self.locator.predict(context, k) if stop is None else self.locator.predict_interruptible(context, k, stop)
        if where is None:
            return None
        details = {"stage": "location", "exact": where.details["exact"], "location_ms": round(where.latency_ms, 3)}
        details["locations"] = len(where.suggestions)
        if where.best.is_no_edit:
            return Prediction([], where.p_no_edit, (time.perf_counter() - started) * 1000.0, details, where.kind_probability)
        prefixes = {location_tokens(suggestion.action): suggestion.probability for suggestion in where.suggestions}
        floor = where.p_no_edit if where.kind_probability is None else 0.0  # deciding by kind, a weaker edit can still win
        edits = self.editor.predict_from(context, prefixes, k, stop, floor=floor)
        if edits is None:
            return None
        details.update(stage="edit", edit_ms=round(edits.latency_ms, 3), exact=where.details["exact"] and edits.details["exact"])
        details.update({f"edit_{key}": value for key, value in edits.details.items() if key != "exact"})
        latency_ms = (time.perf_counter() - started) * 1000.0
        return Prediction(edits.suggestions, where.p_no_edit, latency_ms, details, where.kind_probability)

    def input_key(self, context: Context) -> Hashable | None:
        """Both models' keys: equal when neither model can tell the two contexts apart."""
        keys = (self.locator.input_key(context), self.editor.input_key(context))
        return None if None in keys else keys

    def quick_input_key(self, context: Context) -> Hashable | None:
        keys = (self.locator.quick_input_key(context), self.editor.quick_input_key(context))
        return None if None in keys else keys

    def prompt_key(self, context: Context) -> Hashable | None:
        keys = (self.locator.prompt_key(context), self.editor.prompt_key(context))
        return None if None in keys else keys

    def reset(self) -> None:
        """Forget both models' cached prompts."""
        self.locator.reset()
        self.editor.reset()

    def warmup(self) -> float:
        """Warm up both models; the sum of their latencies in ms."""
        return self.locator.warmup() + self.editor.warmup()


def check_stages(edit_meta: dict, location_meta: dict, model: str, location_model: str) -> None:
    """A ``NepError`` unless ``location_model`` is a location model and ``model`` an edit model of the same domain."""
    edit_domain, location_domain = edit_meta.get("domain"), location_meta.get("domain")
    if edit_domain != location_domain:
        raise NepError(
            f"--location-model {location_model} is a '{location_domain}' model but --model {model} a '{edit_domain}' model: "
            "the two stages must be of the same domain"
        )
    if location_meta.get("target", "action") != "location":
        raise NepError(
            f"--location-model {location_model}: not a location model; train one with "
            f"`nep train --domain {location_domain} --target location`"
        )
    if edit_meta.get("target", "action") != "action":
        raise NepError(f"--model {model} is a location model: pass an ordinary `nep train` checkpoint as --model")


def check_two_stage_folders(model: str, location_model: str, domain: Domain) -> None:
    """A one-line ``NepError`` when the two folders cannot make a two-stage predictor: a baseline or a missing
    folder, a model of the wrong target, the two of different domains. Reads only their ``nep.json``."""
    from nep_core.checkpoint import read_meta
    from nep_core.inference.factory import is_baseline, model_folder

    if is_baseline(model):
        raise NepError(f"--location-model needs a checkpoint as --model (the edit model), not the baseline '{model}'")
    metas = [read_meta(model_folder(path, domain, option)) for option, path in (("--model", model), ("--location-model", location_model))]
    check_stages(*metas, model, location_model)


def load_two_stage(
    model: str, location_model: str, domain: Domain, settings: DecodeSettings | None = None, device: str = "cpu", dtype=None
) -> TwoStagePredictor:
    """``TwoStagePredictor`` from two checkpoint folders; a missing folder, a baseline, a model of the wrong
    target or the two of different domains is a one-line ``NepError`` before any weights load."""
    from nep_core.checkpoint import META_FILE, as_trained, load_checkpoint
    from nep_core.inference.decoder import ModelPredictor

    check_two_stage_folders(model, location_model, domain)
    locating = load_checkpoint(Path(location_model).expanduser(), domain.name, device, dtype)
    editing = load_checkpoint(Path(model).expanduser(), domain.name, device, dtype)
    locator = ModelPredictor(locating, as_trained(domain, locating.meta, locating.path / META_FILE), settings, owns_model=True)
    editor = ModelPredictor(editing, as_trained(domain, editing.meta, editing.path / META_FILE), settings, owns_model=True)
    return TwoStagePredictor(locator, editor)
