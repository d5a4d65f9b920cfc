"""Predictors: the model and the baselines behind one interface."""

from nep_core.inference.predictor import Prediction, Predictor, Suggestion

__all__ = ["Prediction", "Predictor", "Suggestion"]
