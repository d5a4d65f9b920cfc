"""Predictors: the model and the baselines behind one interface.

``ModelPredictor`` and ``DecodeSettings`` import torch, so they load on first use.
"""

from nep_core.inference.baselines import MostFrequent, NGram, RepeatLast, canonical_action
from nep_core.inference.factory import BASELINES, is_baseline, load_predictor, make_baseline
from nep_core.inference.predictor import Prediction, Predictor, Suggestion
from nep_core.inference.two_stage import TwoStagePredictor

__all__ = [
    "BASELINES",
    "DecodeSettings",
    "ModelPredictor",
    "MostFrequent",
    "NGram",
    "Prediction",
    "Predictor",
    "RepeatLast",
    "Suggestion",
    "TwoStagePredictor",
    "canonical_action",
    "is_baseline",
    "load_predictor",
    "make_baseline",
]


def __getattr__(name: str):
    if name in ("ModelPredictor", "DecodeSettings"):
        from nep_core.inference import decoder

        return getattr(decoder, name)

    raise AttributeError(f"module 'nep_core.inference' has no attribute '{name}'")
