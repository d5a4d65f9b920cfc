"""Training throughput of `nep train`, against a plain PyTorch loop in the same run; prints JSON.

    python bench/bench_train.py --domain turtle --preset tiny
    python bench/bench_train.py --domain tags --preset small --steps 60

Both sides train the same model (same preset, same seed) on the same batches of the domain's
default data: ``plain`` is a bare loop (forward, target-only cross entropy, backward, clip, AdamW
step); ``nep`` is the Lightning system and Trainer that `nep train` uses, with its callbacks and
logging. The first ``--warmup`` steps of each are not timed. Figures are per step: the median step
time and tokens per second (non-padding tokens), and ``overhead`` = nep median over plain median.
The `tags` test domain is found through tests/plugins when NEP_PLUGINS_DIR is not set.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("NEP_PLUGINS_DIR", str(REPO / "tests" / "plugins"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def summary(step_seconds: list[float], step_tokens: list[int]) -> dict[str, float]:
    rates = [tokens / seconds for tokens, seconds in zip(step_tokens, step_seconds)]
    return {
        "steps": len(step_seconds),
        "step_ms_p50": round(1000 * statistics.median(step_seconds), 3),
        "tokens_per_s_p50": round(statistics.median(rates), 1),
        "tokens_per_step_mean": round(statistics.fmean(step_tokens), 1),
    }


def plain_loop(setup, steps: int, warmup: int, learning_rate: float, device) -> tuple[list[float], list[int]]:
    """A bare PyTorch loop over the same batches with the same loss; returns timed step seconds and tokens."""
    import torch
    import torch.nn.functional as F

    system = setup.system
    system.to(device)
    optimizer = torch.optim.AdamW(system.model.parameters(), lr=learning_rate, betas=(0.9, 0.95), weight_decay=0.01)
    setup.datamodule.setup("fit")
    seconds, tokens = [], []
    batches = iter(setup.datamodule.train_dataloader())
    for step in range(steps + warmup):
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(setup.datamodule.train_dataloader())
            batch = next(batches)
        started = time.perf_counter()
        batch = {key: value.to(device) for key, value in batch.items()}
        logits, targets, _ = system.target_logits(batch)
        loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(system.model.parameters(), 1.0)
        optimizer.step()
        loss.item()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            seconds.append(time.perf_counter() - started)
            tokens.append(int(batch["attention_mask"].sum().item()))
    return seconds, tokens


def lightning_run(config, plan, data, steps: int, warmup: int) -> tuple[list[float], list[int], dict]:
    """`nep train`'s own Trainer and system, with a callback that times each step."""
    import lightning as L
    import torch

    from nep_core.training.run import build_setup, fit, make_trainer, resolve_precision

    setup = build_setup(plan, data)

    class StepTimer(L.Callback):
        def __init__(self):
            self.seconds, self.tokens, self.started = [], [], 0.0

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            self.started = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            if trainer.global_step > warmup:
                self.seconds.append(time.perf_counter() - self.started)
                self.tokens.append(int(batch["attention_mask"].sum().item()))

    precision = resolve_precision(config)
    trainer = make_trainer(config, plan.folder, precision, validate=False)
    timer = StepTimer()
    trainer.callbacks.append(timer)
    fit(plan, trainer, setup)
    return timer.seconds, timer.tokens, {"precision": precision, "device": type(trainer.accelerator).__name__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--domain", default="turtle")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--data", default=None, help="a folder of session logs or COLLECTOR:ARGUMENT (default: the domain's)")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per side")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before timing")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    arguments = parser.parse_args()

    import torch

    from nep_core.training.config import TrainConfig
    from nep_core.training.quiet import silence_libraries
    from nep_core.training.run import build_setup, cpu_threads, plan_run, prepare_data

    silence_libraries()
    with tempfile.TemporaryDirectory(prefix="nep-bench-train-") as scratch:
        config = TrainConfig(
            domain=arguments.domain, data=arguments.data, out=Path(scratch) / "run", preset=arguments.preset,
            max_steps=arguments.steps + arguments.warmup, batch_size=arguments.batch_size,
            val_every=10**9, threads=arguments.threads, progress=False,
        )
        plan = plan_run(config)
        data = prepare_data(plan.domain, config.data, lambda message: None)
        with cpu_threads(config):
            device = torch.device("cuda" if torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda") else "cpu")
            baseline_setup = build_setup(plan, data)
            learning_rate = config.resolved_learning_rate(arguments.preset)
            plain_seconds, plain_tokens = plain_loop(baseline_setup, arguments.steps, arguments.warmup, learning_rate, device)
            parameters = sum(parameter.numel() for parameter in baseline_setup.system.model.parameters())
            del baseline_setup
            nep_seconds, nep_tokens, details = lightning_run(config, plan, data, arguments.steps, arguments.warmup)
            threads = torch.get_num_threads()
    plain, nep = summary(plain_seconds, plain_tokens), summary(nep_seconds, nep_tokens)
    print(
        json.dumps(
            {
                "benchmark": "train",
                "domain": arguments.domain,
                "preset": arguments.preset,
                "parameters": parameters,
                "batch_size": arguments.batch_size,
                "examples": len(data.examples["train"]),
                "plain": plain,
                "nep": {**nep, **details},
                "overhead": round(nep["step_ms_p50"] / plain["step_ms_p50"], 3),
                "machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": threads,
                            "cpu": platform.processor() or platform.machine(),
                            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    from nep_core.errors import NepError

    try:
        main()
    except NepError as error:
        sys.exit(f"error: {error}")
