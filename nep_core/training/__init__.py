"""Supervised training: ``train(TrainConfig(domain=...))`` is what ``nep train`` runs.

Modules: ``config`` (TrainConfig), ``datamodule`` (token sequences and batches), ``system`` (the
LightningModule), ``callbacks`` and ``progress`` (finishing and interrupting cleanly), ``run_folder``
(the folder layout and resume checks), ``plot`` (loss curves), ``run`` (the ``train`` entry point).
Importing this package is cheap; torch and Lightning load when ``train`` runs.
"""

from nep_core.training.config import TrainConfig


def train(config: TrainConfig):
    """Train as ``config`` says; returns the run folder (a Hugging Face checkpoint with ``nep.json``)."""
    from nep_core.training.run import train as _train

    return _train(config)


__all__ = ["TrainConfig", "train"]
