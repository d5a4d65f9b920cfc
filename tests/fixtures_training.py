"""A trained `tags` checkpoint, shared by every test that needs a model that has really learned.

Import the fixture into tests/conftest.py (``from fixtures_training import trained_tags_model``).
It trains once per test session through the Python API that `nep train` uses: preset tiny on the
domain's default dataset, which takes about 50 s on 2 CPU cores. By then the model closes the
right tag (decided several steps back) on held-out sessions about 9 times in 10.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TRAINED_TAGS_STEPS = 1200
"""Enough for the tiny model to learn which tag to close; see tests/test_training.py."""


@pytest.fixture(scope="session")
def trained_tags_model(tmp_path_factory) -> Path:
    """The run folder (a Hugging Face checkpoint with nep.json) of a tiny model trained on `tags`."""
    from nep_core.training import TrainConfig, train

    out = tmp_path_factory.mktemp("trained-tags") / "run"
    config = TrainConfig(domain="tags", preset="tiny", max_steps=TRAINED_TAGS_STEPS, val_every=250, out=out, seed=0, progress=False)
    return train(config)
