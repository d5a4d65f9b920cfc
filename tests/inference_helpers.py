"""Shared pieces of the inference, evaluation and predict tests: a random tiny checkpoint, contexts, `nep`."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from nep_core.actions import Action
from nep_core.session import Context, Event

TAGS = ("a", "b", "c", "d", "e")


def save_random_checkpoint(folder: Path, domain, seed: int = 0, meta_domain: str | None = None, max_context_tokens: int = 160) -> Path:
    """An untrained `tiny` checkpoint for ``domain`` (nep.json says ``meta_domain`` when given)."""
    import torch

    from nep_core.checkpoint import save_checkpoint
    from nep_core.model.config import build_model, get_preset

    tokenizer = domain.build_tokenizer()
    torch.manual_seed(seed)
    model = build_model(get_preset("tiny"), tokenizer)
    meta = {"domain": meta_domain or domain.name, "max_context_tokens": max_context_tokens}
    return save_checkpoint(folder, model, tokenizer, meta)


def random_action(rng: random.Random) -> Action:
    """Any tags action, well nested or not."""
    kind = rng.choice(("open", "close", "write", "scroll"))
    if kind in ("open", "close"):
        return Action(kind, target=rng.choice(TAGS))
    if kind == "write":
        return Action(kind, args={"word": rng.choice(("x", "y"))})
    return Action(kind, args={"dir": rng.choice(("up", "down"))}, edit=False)


def random_contexts(count: int, seed: int = 0, sessions=()) -> list[Context]:
    """Prefixes of real sessions (when given) and random action soups, with random pauses."""
    rng = random.Random(seed)
    contexts = []
    for index in range(count):
        if sessions and index % 2 == 0:
            session = rng.choice(sessions)
            cut = rng.randint(0, len(session.events))
            contexts.append(Context(history=session.events[:cut], session_id=session.id))
            continue
        t = 0.0
        events = []
        for _ in range(rng.randint(0, 40)):
            t += rng.choice((0.2, 1.0, 3.0, 30.0))
            events.append(Event(t=t, action=random_action(rng)))
        contexts.append(Context(history=events))
    return contexts


PAUSES = (0.0, 0.3, 0.49, 0.51, 0.9, 1.0, 1.01, 1.99, 2.01, 4.9, 5.1, 14.9, 15.1, 59.0, 61.0)
"""Seconds between events, on both sides of the gap buckets and of the code encoder's merge window."""


def retimed(context: Context, rng: random.Random, last_only: bool = False) -> Context:
    """``context`` with the same events at other times (only the newest one moved, as an accept is, when ``last_only``)."""
    events, t = [], 0.0
    for index, event in enumerate(context.history):
        if last_only:
            t = event.t + (rng.choice(PAUSES) if index == len(context.history) - 1 else 0.0)
        else:
            t += rng.choice(PAUSES)
        events.append(Event(t=t, action=event.action, state=event.state, feedback=event.feedback))
    return Context(history=events, state=context.state, session_id=context.session_id, meta=context.meta)


def check_time_key(encoder, contexts, seed: int = 0, variants: int = 8) -> tuple[int, int]:
    """Assert that contexts alike up to their times with equal ``encoder.time_key`` encode alike;
    returns (retimings with the key unchanged, retimings that changed it), so a test can see both happened."""
    rng = random.Random(seed)
    unchanged = changed = 0
    for context in contexts:
        key, tokens = encoder.time_key(context), encoder.encode(context)
        assert key is not None
        for index in range(variants):
            other = retimed(context, rng, last_only=index % 2 == 0)
            if encoder.time_key(other) == key:
                assert encoder.encode(other) == tokens, f"equal time keys, other prompts: {[e.t for e in other.history]}"
                unchanged += any(a.t != b.t for a, b in zip(context.history, other.history))
            else:
                changed += 1
    return unchanged, changed


def nep(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the `nep` command line in a subprocess (it inherits NEP_PLUGINS_DIR and NEP_HOME from conftest)."""
    return subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", *args], capture_output=True, text=True, timeout=timeout
    )
