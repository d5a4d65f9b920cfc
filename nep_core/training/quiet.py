"""Keep library chatter (progress bars, tips, hints meant for other setups) out of NEP's output."""

from __future__ import annotations

import importlib
import logging
import os
import warnings


def silence_libraries() -> None:
    """Turn off transformers' progress bars and warnings, and Lightning's info lines and tips."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    importlib.import_module("lightning.pytorch")  # it sets its loggers to INFO on import: import, then override

    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from lightning.fabric.utilities.warnings import PossibleUserWarning

    warnings.filterwarnings("ignore", category=PossibleUserWarning)
    for message in (
        r".*does not have many workers.*",
        r".*LeafSpec.*",
        r".*Checkpoint directory .* exists and is not empty.*",
        r".*Experiment logs directory .* exists and is not empty.*",
        r".*TensorBoard.*",
        r".*litlogger.*",
        r".*barebones.*",
    ):
        warnings.filterwarnings("ignore", message=message)
