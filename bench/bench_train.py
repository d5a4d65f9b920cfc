"""Training throughput of `nep train`, against a plain PyTorch loop in the same run; prints JSON.

    python bench/bench_train.py --domain turtle --preset tiny
    python bench/bench_train.py --domain tags --preset small --steps 60

Both sides train the same model (same preset, same seed) on the same batches of the domain's
default data, at the same precision (`nep train`'s: bf16-mixed on a GPU that has it, else 16-mixed,
32-true on a CPU; the plain loop runs under ``torch.autocast`` with that dtype, and a gradient scaler
for 16-mixed): ``plain`` is a bare loop (next batch, move to the device, forward, target-only cross
entropy, backward, clip, AdamW step); ``nep`` is the Lightning system and Trainer that `nep train`
uses, with its callbacks and logging. A step's time runs from the start of one step to the start of
the next (for ``nep``, between consecutive ``on_train_batch_start`` calls, so it holds the data
loading, the device move, the module's and the callbacks' hooks and the logger), on a GPU after
``torch.cuda.synchronize()``. The first ``--warmup`` steps of each side are not timed.

The two sides run ``--rounds`` times, each round from a fresh model, in alternating order (plain
first in even rounds, nep first in odd ones), so that neither always runs on a cold or a hot machine.
Figures are per step, over the timed steps of all rounds: the median step time and tokens per second
(non-padding tokens); ``overhead`` = nep median over plain median, and ``overhead_per_round``.
The `tags` test domain is found through tests/plugins when NEP_PLUGINS_DIR is not set. Progress goes
to stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    argument_parser, machine, median, non_negative_int, positive_int, progress, ratio, run_main, use_test_domains,
)

use_test_domains()

AUTOCAST_DTYPES = {"bf16-mixed": "bfloat16", "16-mixed": "float16"}
"""The Lightning precisions that run under ``torch.autocast``, and its dtype; others (32-true) run as they are."""


def summary(step_seconds: list[float], step_tokens: list[int]) -> dict[str, float]:
    rates = [tokens / seconds for tokens, seconds in zip(step_tokens, step_seconds)]
    return {
        "steps": len(step_seconds),
        "step_ms_p50": round(1000 * median(step_seconds), 3),
        "tokens_per_s_p50": round(median(rates), 1),
        "tokens_per_step_mean": round(statistics.fmean(step_tokens), 1),
    }


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_loop(setup, steps: int, warmup: int, learning_rate: float, device, precision: str) -> tuple[list[float], list[int]]:
    """A bare PyTorch loop over the same batches with the same loss, under ``precision``; returns the
    timed steps' seconds (fetching the batch included) and tokens."""
    import torch
    import torch.nn.functional as F

    system = setup.system
    system.to(device)
    optimizer = torch.optim.AdamW(system.model.parameters(), lr=learning_rate, betas=(0.9, 0.95), weight_decay=0.01)
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "16-mixed")
    dtype = AUTOCAST_DTYPES.get(precision)
    autocast = torch.autocast(device.type, dtype=getattr(torch, dtype)) if dtype else contextlib.nullcontext()
    setup.datamodule.setup("fit")
    seconds, tokens = [], []
    batches = iter(setup.datamodule.train_dataloader())
    for step in range(steps + warmup):
        started = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            batches = iter(setup.datamodule.train_dataloader())
            batch = next(batches)
        batch = {key: value.to(device) for key, value in batch.items()}
        with autocast:
            logits, targets, _ = system.target_logits(batch)
            loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(system.model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
        loss.item()
        synchronize(device)
        if step >= warmup:
            seconds.append(time.perf_counter() - started)
            tokens.append(int(batch["attention_mask"].sum().item()))
    return seconds, tokens


def lightning_run(config, data, steps: int, warmup: int, precision: str) -> tuple[list[float], list[int], str]:
    """`nep train`'s own Trainer and system for ``steps + warmup + 1`` steps, with a callback that
    notes when each step starts: a step's time is from its start to the next one's."""
    import lightning as L

    from nep_core.training.run import build_setup, fit, make_trainer, plan_run

    config = dataclasses.replace(config, max_steps=steps + warmup + 1)
    plan = plan_run(config)
    setup = build_setup(plan, data)

    class StepStarts(L.Callback):
        def __init__(self):
            self.starts, self.tokens = [], []

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            synchronize(module.device)
            self.starts.append(time.perf_counter())
            self.tokens.append(int(batch["attention_mask"].sum().item()))

    trainer = make_trainer(config, plan.folder, precision, validate=False)
    timer = StepStarts()
    trainer.callbacks.append(timer)
    fit(plan, trainer, setup)
    seconds = [later - earlier for earlier, later in zip(timer.starts, timer.starts[1:])][warmup : warmup + steps]
    return seconds, timer.tokens[warmup : warmup + steps], type(trainer.accelerator).__name__


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--domain", default="turtle", help="the domain (`nep domains` lists them)")
    parser.add_argument("--preset", default="tiny", help="the model size, as nep train --preset")
    parser.add_argument("--data", default=None, help="a folder of session logs or COLLECTOR:ARGUMENT (default: the domain's)")
    parser.add_argument("--steps", type=positive_int, default=100, help="timed steps per side and round")
    parser.add_argument("--warmup", type=non_negative_int, default=5, help="untimed steps before timing, per side and round")
    parser.add_argument("--rounds", type=positive_int, default=2, help="times each side runs, the order alternating")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="examples per step")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: the process's share of the cores)")
    arguments = parser.parse_args()

    import torch

    from nep_core.training.config import TrainConfig
    from nep_core.training.quiet import silence_libraries
    from nep_core.training.run import build_setup, cpu_threads, plan_run, prepare_data, resolve_precision

    silence_libraries()
    with tempfile.TemporaryDirectory(prefix="nep-bench-train-") as scratch:
        config = TrainConfig(
            domain=arguments.domain, data=arguments.data, out=Path(scratch) / "plain", preset=arguments.preset,
            max_steps=arguments.steps + arguments.warmup, batch_size=arguments.batch_size,
            val_every=10**9, threads=arguments.threads, progress=False,
        )
        plan = plan_run(config)
        progress("preparing the data")
        data = prepare_data(plan.domain, config.data, lambda message: None)
        precision = resolve_precision(config)
        times = {"plain": ([], []), "nep": ([], [])}
        per_round, order = [], []
        with cpu_threads(config):
            device = torch.device("cuda" if torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda") else "cpu")
            learning_rate = config.resolved_learning_rate(arguments.preset)
            for round_number in range(arguments.rounds):
                sides = ["plain", "nep"] if round_number % 2 == 0 else ["nep", "plain"]
                medians = {}
                for side in sides:
                    progress(f"round {round_number + 1} of {arguments.rounds}: {side}")
                    if side == "plain":
                        setup = build_setup(plan, data)
                        seconds, tokens = plain_loop(setup, arguments.steps, arguments.warmup, learning_rate, device, precision)
                        parameters = sum(parameter.numel() for parameter in setup.system.model.parameters())
                        del setup
                    else:
                        round_config = dataclasses.replace(config, out=Path(scratch) / f"nep-{round_number}")
                        seconds, tokens, accelerator = lightning_run(round_config, data, arguments.steps, arguments.warmup, precision)
                    times[side][0].extend(seconds)
                    times[side][1].extend(tokens)
                    medians[side] = median(seconds)
                per_round.append(ratio(medians["nep"], medians["plain"]))
                order.append(sides)
            threads = torch.get_num_threads()
    plain, nep = summary(*times["plain"]), summary(*times["nep"])
    print(
        json.dumps(
            {
                "benchmark": "train",
                "domain": arguments.domain,
                "preset": arguments.preset,
                "parameters": parameters,
                "batch_size": arguments.batch_size,
                "examples": len(data.examples["train"]),
                "precision": precision,
                "device": device.type,
                "rounds": arguments.rounds,
                "order": order,
                "plain": plain,
                "nep": {**nep, "accelerator": accelerator},
                "overhead": ratio(nep["step_ms_p50"], plain["step_ms_p50"]),
                "overhead_per_round": per_round,
                "machine": machine(torch=torch.__version__, threads=threads,
                                   gpu=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    run_main(main)
