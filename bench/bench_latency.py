"""Suggestion latency and throughput, in-process, through `nep serve` on loopback, and against plain
`transformers` ``generate``; prints JSON.

    python bench/bench_latency.py --domain tags --model ngram --requests 500
    NEP_HOME=/tmp/code/home_default python bench/bench_latency.py --domain code --model /tmp/code/run_default

The requests come from the held-out (test split) sessions of the domain's data. ``--workload
sessions`` (the default) sends them as an app does: one request after each action of a session, in
order, so that each request's history is the previous one's plus an action. ``--workload spread``
takes trigger points spread evenly over the whole split instead (each request from elsewhere: the
KV cache of the previous prompt rarely helps). Phases:

- ``in_process``: ``predictor.predict(context, k)`` called directly, the first call on each context
  (``in_process_top1``: with k=1, among the later ones).
- ``generate`` (checkpoints only): the same model and the same prompt (``Featurizer.prompt_ids``) through
  plain `transformers` ``model.generate``, one torch thread like the predictor, ``max_new_tokens`` the
  decoder's action length limit, in three forms: ``generate`` greedy and unconstrained (the cheapest
  call there is, though its answer may be no valid action); ``generate_constrained_top1`` greedy under
  the action grammar (``prefix_allowed_tokens_fn``: the job of ``predict`` with k=1);
  ``generate_constrained_topk`` beam search under the grammar returning k sequences
  (``num_beams`` = the domain's beam width, at least k; ``length_penalty`` 0, so beams are ranked by
  probability as ``predict`` ranks them: the job of ``predict`` with k). ``ratio_*`` are their p50
  over ours. All of them are timed in turn on each context, so that a busy machine slows them alike.
- ``server``: `nep serve` in a subprocess on 127.0.0.1, the same contexts one at a time over one
  keep-alive connection (stdlib ``http.client``, the kind of client an app add-on uses), round trips
  timed (body already encoded; the answer decoded). Between two requests the client waits until the
  server's speculation queue is empty (``/v1/health``), as a user's pause would let it. ``server`` and
  ``server_handler`` are the answers the server predicted; where the session's previous top suggestion was the
  user's next action, the answer comes from the speculation instead, and those are ``server_from_speculation``
  (their share ``server_from_speculation_share``; until 2026-12-08 ``server`` mixed them in).
- ``accept``: for contexts (spread over the split, each a session of its own) whose answer is an
  edit, the client waits likewise, then sends the history
  plus the top suggestion as an action ``--accept-after`` session seconds later (the user accepted it):
  round trips of those requests, and the share answered from the speculation (``hit_rate``).
- ``throughput``: 1, 8 and 32 concurrent clients, each its own session and connection, sending
  ``--throughput-requests`` in all (shared out evenly) back to back (no pauses: speculation then
  mostly yields to requests): requests per second and latency of the 200 answers (any other answer,
  or a request that fails, is an error). The bodies are encoded and the connections opened before
  the clock starts, and the clients start together.

``ratio_p50``/``ratio_p95`` are server over in-process, on the contexts the server predicted. ``targets`` puts the project's latency
targets (2 CPU cores, default models) beside the measured values, each with ``met``: p50 in process
and through the server (blender, krita and video 15 ms, code 60 ms), the accept hit's p50 (2 ms), and
at least 3× faster than ``generate`` doing the same job (``ratio_generate_constrained_topk_p50``: k
suggestions by beam search under the grammar; the greedy ratios answer with one sequence, so they
are reported but not held to it). Percentiles interpolate between ranks, as `nep eval`'s do. With
``--device cuda`` each in-process call is timed up to ``torch.cuda.synchronize()``. Progress goes to
stderr. The `tags` test domain is found through tests/plugins when NEP_PLUGINS_DIR is not set.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from nep_core.errors import NepError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    Client, argument_parser, check_models, held_out_contexts, machine, non_negative_float, non_negative_int, positive_int,
    positive_ints, progress, request_body, run_clients, run_main, server_health, session_name, shares, start_server,
    stop_server, summary, use_test_domains,
)

use_test_domains()


P50_TARGET_MS = {"blender": 15.0, "krita": 15.0, "video": 15.0, "code": 60.0}
"""The p50 latency targets per domain, in process and through the server, on 2 CPU cores."""
ACCEPT_HIT_TARGET_MS = 2.0
SAME_JOB_TARGET_RATIO = 3.0


def target(value: float, limit: float, at_most: bool) -> dict:
    return {"value": value, "target": f"{'<=' if at_most else '>='} {limit:g}", "met": value <= limit if at_most else value >= limit}


def targets(report: dict) -> dict:
    """The targets that apply to this run, each with its measured value and whether it is met."""
    checks = {}
    limit = P50_TARGET_MS.get(report["domain"])
    if limit is not None:
        checks["in_process_p50_ms"] = target(report["in_process"]["p50_ms"], limit, at_most=True)
        checks["server_p50_ms"] = target(report["server"]["p50_ms"], limit, at_most=True)
    if report["accept"] and report["accept"]["hit"]:
        checks["accept_hit_p50_ms"] = target(report["accept"]["hit"]["p50_ms"], ACCEPT_HIT_TARGET_MS, at_most=True)
    if "ratio_generate_constrained_topk_p50" in report:
        checks["faster_than_generate_same_job"] = target(report["ratio_generate_constrained_topk_p50"], SAME_JOB_TARGET_RATIO, at_most=False)
    return checks


def time_in_process(predictor, contexts, top_k: int, warmup: int, with_generate: bool) -> dict[str, list[float]]:
    """Per context, in turn: ``predict`` with ``top_k``, then, in an order rotated from one context to
    the next, ``predict`` with k=1 and (``with_generate``) the three ``model.generate`` baselines;
    interleaved so that a busy machine slows all of them alike. ``predict`` with ``top_k`` comes first
    on each context, so it alone pays the domain's work per new context (a video timeline's replay and
    bound grammar, krita's canvas), which the later runs find done; the rotation lets the others follow
    each other equally often (the run after a beam search finds the processor's caches cold: about 4
    ms on krita). The two ``predict`` runs see the context under session ids of their own, so that
    neither reuses the prompt the other just computed (each still reuses its own previous prompt of
    the session, as a server would). On a GPU each timed call ends with ``torch.cuda.synchronize()``,
    so that its time holds the work it queued."""
    synchronize = cuda_synchronizer(predictor)
    first = ("in_process", lambda context: predictor.predict(context, top_k))
    runs = [("in_process_top1", lambda context: predictor.predict(context, 1))]
    if with_generate:
        runs.append(("generate", generator(predictor)))
        runs.append(("generate_constrained_top1", generator(predictor, constrained=True)))
        runs.append(("generate_constrained_topk", generator(predictor, constrained=True, top_k=top_k)))
    timings: dict[str, list[float]] = {name: [] for name, _ in [first, *runs]}
    for index, context in enumerate(contexts):
        for name, run in [first, *runs[index % len(runs) :], *runs[: index % len(runs)]]:
            own = dataclasses.replace(context, session_id=f"{context.session_id}#{name}")
            started = time.perf_counter()
            run(own)
            synchronize()
            if index >= warmup:
                timings[name].append((time.perf_counter() - started) * 1000.0)
        if (index + 1) % 50 == 0:
            progress(f"in process: {index + 1} of {len(contexts)} contexts")
    return timings


def cuda_synchronizer(predictor):
    """``torch.cuda.synchronize`` when the predictor runs on a GPU, else a call that does nothing."""
    if not str(getattr(predictor, "device", "cpu")).startswith("cuda"):
        return lambda: None
    import torch

    return torch.cuda.synchronize


def generator(predictor, constrained: bool = False, top_k: int = 1):
    """Plain ``model.generate`` on the predictor's model and prompt, ``max_new_tokens`` the decoder's
    action length limit, as many torch threads as the predictor uses: greedy; with ``constrained`` under
    the action grammar (the predictor's own masks, as ``prefix_allowed_tokens_fn``); with ``top_k`` > 1
    beam search returning that many sequences."""
    import torch
    from transformers.utils import logging as hf_logging

    from nep_core.inference.decoder import _torch_threads

    hf_logging.set_verbosity_error()
    model, featurizer = predictor.model, predictor.featurizer
    pad = featurizer.tokenizer.pad_token_id
    beams = max(predictor.settings.beam_width or predictor.domain.beam_width, top_k) if top_k > 1 else 1

    def generate(context) -> None:
        with torch.inference_mode(), _torch_threads(predictor.settings.threads):
            prompt = featurizer.prompt_ids(context)
            ids = torch.tensor([prompt], device=predictor.device)
            options = {}
            if constrained:
                space = predictor.space.for_context(context)

                def allowed(_batch: int, sequence) -> list[int]:
                    written = featurizer.tokens(sequence[len(prompt):].tolist())
                    if written and written[-1] == featurizer.id_to_token[featurizer.eos_id]:
                        return [featurizer.eos_id]  # a finished beam, padded
                    return list(predictor.masks.step(written, space).ids) or [featurizer.eos_id]

                options["prefix_allowed_tokens_fn"] = allowed
            if beams > 1:
                options.update(num_beams=beams, num_return_sequences=top_k, length_penalty=0.0)
            model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=predictor.settings.max_action_tokens,
                do_sample=False,
                eos_token_id=featurizer.eos_id,
                pad_token_id=pad if pad is not None else featurizer.eos_id,
                **options,
            )

    return generate


def time_server_sequential(url: str, bodies: list[bytes], warmup: int) -> tuple[list[float], list[float], list[bool]]:
    """Round trips and handler times of ``bodies`` after ``warmup``, and whether each was answered from a speculation
    (the session's previous top suggestion was the user's next action: nothing is predicted)."""
    client = Client(url)
    round_trips, handler, speculative = [], [], []
    for index, body in enumerate(bodies):
        client.settle()
        status, answer, elapsed = client.post("/v1/suggest", body)
        if status != 200:
            raise NepError(f"request {index} failed: {status} {answer}")
        if index >= warmup:
            round_trips.append(elapsed)
            handler.append(answer["latency_ms"])
            speculative.append(bool(answer.get("speculative")))
    client.close()
    return round_trips, handler, speculative


def time_accepts(url: str, contexts, top_k: int, accept_after: float, count: int) -> dict:
    """Ask, let the speculation finish, then send the history with the top suggestion accepted."""
    client = Client(url)
    hits, misses, speculation_ms = [], [], []
    for index, context in enumerate(contexts):
        if len(hits) + len(misses) >= count:
            break
        session = session_name(context, f"acc{index}-")
        status, first, _ = client.post("/v1/suggest", request_body(context, top_k, session))
        if status != 200 or first["best_is_no_edit"] or not first["suggestions"]:
            continue
        started = time.perf_counter()
        client.settle()
        speculation_ms.append((time.perf_counter() - started) * 1000.0)
        last_t = context.history[-1].t if context.history else 0.0
        accepted = {"t": last_t + accept_after, "action": first["suggestions"][0]["action"]}
        status, second, elapsed = client.post("/v1/suggest", request_body(context, top_k, session, [accepted]))
        if status != 200:
            raise NepError(f"accept request failed: {status} {second}")
        (hits if second["speculative"] else misses).append(elapsed)
    client.close()
    total = len(hits) + len(misses)
    return {
        "accepts": total,
        "hit_rate": round(len(hits) / total, 3) if total else None,
        "hit": summary(hits) if hits else None,
        "miss": summary(misses) if misses else None,
        "all": summary(hits + misses) if total else None,
        "speculation_wait": summary(speculation_ms) if speculation_ms else None,
        "accept_after_s": accept_after,
    }


def time_throughput(url: str, contexts, top_k: int, clients: int, requests: int) -> dict:
    """``requests`` requests in all (shared out as evenly as whole numbers go) from ``clients`` concurrent
    clients, each its own session, back to back
    (bodies encoded beforehand, connections open before the clock starts); rate and latency of the 200
    answers, every other answer an error."""
    plans = [[("/v1/suggest", request_body(contexts[(worker * 7 + step) % len(contexts)], top_k, f"tp{clients}-{worker}"))
              for step in range(share)] for worker, share in enumerate(shares(requests, clients))]
    load = run_clients(url, plans)
    answered = load["latencies"].get("/v1/suggest", [])
    sent = sum(load["statuses"].values())
    return {"clients": clients, "requests": sent, "errors": sent - len(answered),
            "statuses": dict(sorted(load["statuses"].items())),
            "requests_per_s": round(len(answered) / load["seconds"], 1), "latency": summary(answered)}


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--domain", required=True, help="the domain (`nep domains` lists them)")
    parser.add_argument("--model", required=True, help="checkpoint folder, or a baseline (ngram / repeat-last / most-frequent) fitted on the train split of --data")
    parser.add_argument("--requests", type=positive_int, default=200, help="timed requests per sequential phase")
    parser.add_argument("--warmup", type=non_negative_int, default=20, help="requests sent first in each sequential phase and not timed")
    parser.add_argument("--top-k", type=positive_int, default=3, help="suggestions asked for")
    parser.add_argument("--data", default=None, help="sessions to draw requests from (default: the domain's default data)")
    parser.add_argument("--workload", choices=("sessions", "spread"), default="sessions",
                        help="sessions: each held-out session's requests in order, as an app sends them; spread: trigger points spread over the split")
    parser.add_argument("--accepts", type=non_negative_int, default=50, help="accepted suggestions to time (0: no accept phase)")
    parser.add_argument("--accept-after", type=non_negative_float, default=1.2, help="session seconds between the last event and the accept")
    parser.add_argument("--concurrency", type=positive_ints, default="1,8,32", metavar="N,N,...",
                        help="numbers of concurrent clients for the throughput phase, comma-separated")
    parser.add_argument("--throughput-requests", type=positive_int, default=200,
                        help="requests per concurrency level, all clients together (at least as many as the most clients)")
    parser.add_argument("--no-speculate", action="store_true", help="serve with --no-speculate (no accept phase)")
    parser.add_argument("--skip-generate", action="store_true", help="leave out the transformers generate baseline")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (as nep serve --device)")
    parser.add_argument("--dtype", default="auto", help="auto (bfloat16 on a GPU, float32 on the CPU), float32, bfloat16 or float16")
    args = parser.parse_args()
    if args.throughput_requests < max(args.concurrency):
        parser.error(f"--throughput-requests {args.throughput_requests} is fewer than the {max(args.concurrency)} clients of "
                     "--concurrency: every client sends one request or more")

    from nep_core.inference.factory import is_baseline, load_predictor
    from nep_core.inference.placement import resolve_placement
    from nep_core.plugins import get_domain

    device, dtype = resolve_placement(args.device, args.dtype)
    domain = get_domain(args.domain)
    check_models(args.model, domain=domain.name, domain_option=True)
    progress("loading the held-out requests")
    contexts, train_examples = held_out_contexts(domain, args.data, args.warmup + args.requests, args.workload)
    accept_contexts = []
    if args.accepts and not args.no_speculate:
        # each accept is a session of its own: its contexts are spread over the split, whatever the workload
        accept_contexts = held_out_contexts(domain, args.data, 4 * args.accepts, "spread")[0] if args.workload != "spread" else contexts[args.warmup:]
    progress(f"loading {args.model}")
    predictor = load_predictor(args.model, domain, train_examples if is_baseline(args.model) else None, device=device, dtype=dtype)

    progress("timing in process")
    timings = time_in_process(predictor, contexts, args.top_k, args.warmup, not is_baseline(args.model) and not args.skip_generate)
    in_process, in_process_top1 = timings["in_process"], timings["in_process_top1"]

    bodies = [request_body(context, args.top_k, session_name(context, "seq-")) for context in contexts]
    with tempfile.TemporaryDirectory(prefix="nep-bench-") as feedback_dir:
        progress("starting nep serve")
        process, url = start_server(args.domain, args.model, args.data, feedback_dir, not args.no_speculate, (args.device, args.dtype))
        try:
            progress("timing through the server")
            through_server, server_side, speculative = time_server_sequential(url, bodies, args.warmup)
            accept = None
            if accept_contexts:
                progress("timing accepted suggestions")
                accept = time_accepts(url, accept_contexts, args.top_k, args.accept_after, args.accepts)
            throughput = []
            for clients in args.concurrency:
                progress(f"throughput with {clients} client(s)")
                throughput.append(time_throughput(url, contexts, args.top_k, clients, args.throughput_requests))
            speculation = server_health(url)["speculation"]
        finally:
            stop_server(process)

    # the server's figure is of the answers it predicted, beside the in-process calls on the same contexts; those it
    # answered from a speculation (the previous top suggestion was the user's next action) are reported apart
    predicted = [index for index, hit in enumerate(speculative) if not hit]
    local, remote = summary(in_process), summary([through_server[index] for index in predicted])
    local_same = summary([in_process[index] for index in predicted]) or local
    remote = remote or summary(through_server)
    report = {
        "domain": args.domain,
        "model": args.model,
        "requests": args.requests,
        "workload": args.workload,
        "device": device,
        "dtype": str(dtype).removeprefix("torch."),
        "top_k": args.top_k,
        "mean_history_events": round(statistics.fmean(len(context.history) for context in contexts), 1),
        "in_process": local,
        "in_process_top1": summary(in_process_top1),
        "server": remote,
        "server_handler": summary([server_side[index] for index in predicted]),
        "server_from_speculation": summary([through_server[index] for index, hit in enumerate(speculative) if hit]),
        "server_from_speculation_share": round(1 - len(predicted) / len(speculative), 3) if speculative else None,
        "ratio_p50": round(remote["p50_ms"] / max(local_same["p50_ms"], 1e-9), 2),
        "ratio_p95": round(remote["p95_ms"] / max(local_same["p95_ms"], 1e-9), 2),
        "accept": accept,
        "throughput": throughput,
        "speculation": speculation,
    }
    if "generate" in timings:
        top1 = summary(in_process_top1)
        for name in ("generate", "generate_constrained_top1", "generate_constrained_topk"):
            report[name] = summary(timings[name])
        report["generate_max_new_tokens"] = predictor.settings.max_action_tokens
        ratios = {
            "ratio_generate_p50": ("generate", local),
            "ratio_generate_p50_top1": ("generate", top1),
            "ratio_generate_constrained_top1_p50": ("generate_constrained_top1", top1),
            "ratio_generate_constrained_topk_p50": ("generate_constrained_topk", local),
        }
        for key, (name, ours) in ratios.items():
            report[key] = round(report[name]["p50_ms"] / max(ours["p50_ms"], 1e-9), 2)
    report["targets"] = targets(report)
    report["machine"] = machine()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    run_main(main)
