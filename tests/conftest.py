"""Test set-up: the `tags` test domain loads like a third-party plugin, through NEP_PLUGINS_DIR.

Environment variables are set at import time so that `nep` subprocesses inherit them.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
os.environ["NEP_PLUGINS_DIR"] = str(TESTS / "plugins")
if "NEP_HOME" not in os.environ:  # a fresh home for this run, removed when it ends (workers inherit it)
    os.environ["NEP_HOME"] = tempfile.mkdtemp(prefix="nep-home-")
    atexit.register(shutil.rmtree, os.environ["NEP_HOME"], ignore_errors=True)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
XDIST_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if XDIST_WORKERS > 1:  # each worker, and the `nep` it starts, trains with its share of the cores (nep_core.training.run.cpu_threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // XDIST_WORKERS)))


@pytest.fixture(scope="session")
def tags_domain():
    from nep_core.plugins import get_domain

    return get_domain("tags")


@pytest.fixture(scope="session")
def tags_sessions(tags_domain):
    from nep_core.dataset import load_sessions

    sessions, _ = load_sessions(tags_domain, None)
    return sessions


from fixtures_training import trained_tags_model  # noqa: E402,F401  (a session-scoped trained checkpoint)
