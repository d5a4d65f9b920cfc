"""A trained `tags` checkpoint, shared by every test that needs a model that has really learned.

Import the fixture into tests/conftest.py (``from fixtures_training import trained_tags_model``).
It trains once per test session through the Python API that `nep train` uses: preset tiny on the
domain's default dataset, which takes about 50 s on 2 CPU cores. By then the model closes the
right tag (decided several steps back) on held-out sessions about 9 times in 10. With pytest-xdist
the workers share it: the first to need it trains it under a file lock, the others wait and reuse it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock

TRAINED_TAGS_STEPS = 1200
"""Enough for the tiny model to learn which tag to close; see tests/test_training.py."""


@pytest.fixture(scope="session")
def trained_tags_model(tmp_path_factory) -> Path:
    """The run folder (a Hugging Face checkpoint with nep.json) of a tiny model trained on `tags`."""
    from nep_core.training import TrainConfig, train

    shared = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:  # each worker has its own base folder, under the run's
        shared = shared.parent
    out = shared / "trained-tags" / "run"
    done = shared / "trained-tags" / "done"
    with FileLock(str(shared / "trained-tags.lock")):
        if not done.exists():
            config = TrainConfig(domain="tags", preset="tiny", max_steps=TRAINED_TAGS_STEPS, val_every=250, out=out, seed=0,
                                 progress=False)
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_text(str(train(config)))
    return Path(done.read_text())
