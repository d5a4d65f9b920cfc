"""What the benchmark scripts share: statistics, the machine block, argument parsing, the error
wrapper, a client of `nep serve` with its concurrent load, example loading and scoring rounds.

Each script puts this folder first on ``sys.path``, so it runs as ``python bench/X.py`` from any folder.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from nep_core.errors import NepError, first_line

REPO = Path(__file__).resolve().parent.parent


def use_test_domains() -> None:
    """Find the `tags` test domain (tests/plugins) unless NEP_PLUGINS_DIR says otherwise; quiet tokenizers."""
    os.environ.setdefault("NEP_PLUGINS_DIR", str(REPO / "tests" / "plugins"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# -- statistics --------------------------------------------------------------------------------------------


def percentile(values, q: float) -> float:
    """The ``q``-th percentile (0..100), interpolated between ranks as `nep eval` computes it."""
    from nep_core.evaluation.metrics import percentile as interpolated

    if not values:
        raise ValueError("percentile of no values")
    return interpolated(values, q)


def median(values) -> float:
    return percentile(values, 50)


def summary(values_ms) -> dict[str, float] | None:
    """Count, p50, p95, p99 and mean of millisecond timings; None for none."""
    if not values_ms:
        return None
    return {
        "count": len(values_ms),
        "p50_ms": round(median(values_ms), 4),
        "p95_ms": round(percentile(values_ms, 95), 4),
        "p99_ms": round(percentile(values_ms, 99), 4),
        "mean_ms": round(statistics.fmean(values_ms), 4),
    }


def spread(values, digits: int = 4) -> dict:
    """Values of repeated rounds: each round's, their median, lowest and highest."""
    return {"per_round": [round(value, digits) for value in values], "median": round(median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits)}


def ratio(numerator: float | None, denominator: float | None, digits: int = 3) -> float | None:
    return None if numerator is None or not denominator else round(numerator / denominator, digits)


def minus_best_baseline(figures: dict[str, dict], metric: str = "exact_match_top1", model: str = "model") -> float | None:
    """The model's ``metric`` minus the best baseline's (every entry of ``figures`` but the model); None
    when the model was scored on no example (its ``metric`` is None then, or ``examples`` is 0)."""
    if figures[model].get(metric) is None or figures[model].get("examples") == 0:
        return None
    best = max(figures[name][metric] or 0.0 for name in figures if name != model)
    return round((figures[model][metric] or 0.0) - best, 4)


# -- what a run was measured on ----------------------------------------------------------------------------


def git_commit() -> str | None:
    """This checkout's commit (``-dirty`` when tracked files are modified); None outside a git checkout."""
    try:
        commit = git(REPO, "rev-parse", "--short", "HEAD").strip()
        dirty = git(REPO, "status", "--porcelain", "--untracked-files=no").strip()
    except (NepError, OSError):
        return None
    return commit + ("-dirty" if dirty else "")


def machine(**extra) -> dict:
    """Python, CPU count, platform, load average and NEP's commit: what the figures were measured on."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "load_average": [round(value, 2) for value in os.getloadavg()], "commit": git_commit(), **extra}


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """Resident (``VmRSS``) and peak resident (``VmHWM``) memory of process ``pid`` in MiB (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def progress(message: str) -> None:
    """A line of progress on stderr (stdout holds only the JSON)."""
    print(message, file=sys.stderr, flush=True)


# -- the command line --------------------------------------------------------------------------------------


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The script's whole docstring as written, and each option's default (unless its help names it)."""

    def _get_help_string(self, action) -> str:
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """Bad arguments are one line, ``error: ...``, and exit status 2 (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def argument_parser(doc: str) -> ArgumentParser:
    return ArgumentParser(description=doc, formatter_class=HelpFormatter)


def at_least(least: int):
    """An argparse type: a whole number, ``least`` or more."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be {least} or more, got {value}")
        return value

    return parse


positive_int = at_least(1)
non_negative_int = at_least(0)


def odd_int(text: str) -> int:
    """An odd count (of runs after the warm-up: the median is then one of them); 1 for a quick look."""
    value = at_least(1)(text)
    if value % 2 == 0:
        raise argparse.ArgumentTypeError(f"must be odd (the median is then one run), got {value}")
    return value


def number(text: str) -> float:
    """A finite number (argparse's ``float`` takes ``nan`` and ``inf`` too)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def probability(text: str) -> float:
    """An argparse type: a number between 0 and 1 (a probability, a confidence)."""
    value = number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value:g}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a number, 0 or more (seconds)."""
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value:g}")
    return value


def shares(total: int, parts: int) -> list[int]:
    """``total`` shared out over ``parts`` as evenly as whole numbers go: the first ``total % parts`` get one more."""
    return [total // parts + (index < total % parts) for index in range(parts)]


def positive_ints(text: str) -> list[int]:
    """Comma-separated positive whole numbers: ``1,8,32``."""
    return [positive_int(part) for part in text.split(",")]


def names_from(choices: tuple[str, ...]):
    """An argparse type: comma-separated names, each one of ``choices``."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{text!r}: give one or more of {', '.join(choices)}, comma-separated")
        return names

    return parse


def existing_path(text: str) -> str:
    """A file or folder that exists (what follows a ``?`` is a collector's options)."""
    if not Path(text.split("?", 1)[0]).expanduser().exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {text}")
    return text


def check_models(*specs: str, option: str = "--model", domain: str | None = None, domain_option: bool = False) -> None:
    """Before any expensive work: each spec is a baseline name or an existing folder; with ``domain``,
    a folder must be a NEP checkpoint of that domain (``check_checkpoint``)."""
    from nep_core.inference.factory import BASELINES, is_baseline

    for spec in specs:
        if spec is None or is_baseline(spec):
            continue
        if not Path(spec).expanduser().exists():
            raise NepError(f"{option} {spec}: no such model folder, and not a baseline ({', '.join(BASELINES)}, ngram:ORDER)")
        if domain is not None:
            check_checkpoint(spec, domain, option, domain_option)


def check_checkpoint(path: str, domain: str, option: str = "--model", domain_option: bool = False) -> dict:
    """The ``nep.json`` of checkpoint folder ``path``, read as NEP reads it: not a checkpoint, a damaged
    one or one of another domain than ``domain`` is a NepError naming ``option``. Scripts that choose
    their domain with ``--domain`` (``domain_option``) suggest it; the others, which have one domain,
    ask for a checkpoint of it."""
    from nep_core.checkpoint import check_domain, read_meta

    try:
        meta = read_meta(Path(path).expanduser())
    except NepError as error:
        raise NepError(f"{option} {error}") from None
    check_domain(meta, domain, f"{option} {path}", None if domain_option else f"pass a {domain} checkpoint")
    return meta


def run_main(main) -> None:
    """Run ``main``; a user's error (NepError, OSError) is one line on stderr and exit status 2."""
    try:
        main()
    except (NepError, OSError) as error:
        print(f"error: {first_line(error)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def git(repo: Path, *args: str, env: dict | None = None) -> str:
    """``git -C repo ARGS``'s output; a failure is a NepError with git's last line."""
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise NepError(f"git {args[0]} in {repo}: {said}")
    return done.stdout


# -- examples ----------------------------------------------------------------------------------------------


def split_examples(domain, sessions, config=None) -> dict[str, list]:
    """Examples per split, the sessions split as `nep train` and `nep eval` split them (``config``: the domain's)."""
    from nep_core.examples import build_examples, split_sessions

    config = config or domain.examples
    return build_examples(split_sessions(sessions, config), domain, config)[0]


def load_split_examples(domain, data: str | None) -> dict[str, list]:
    """Examples per split of ``data`` (a folder or COLLECTOR:ARGUMENT; None: the domain's default data)."""
    from nep_core.dataset import load_sessions

    return split_examples(domain, load_sessions(domain, data)[0])


def collect_repositories(domain, repositories: list[str], options: str) -> tuple[list, dict[str, int]]:
    """Sessions of each git repository's history (``git`` collector, ``options`` as after '?'), and how many per repository."""
    from nep_core.collector import CollectReport

    sessions, per_repository = [], {}
    for repository in repositories:
        collected = list(domain.collectors["git"].collect(f"{repository}?{options}" if options else repository, CollectReport()))
        per_repository[repository] = len(collected)
        sessions.extend(collected)
    return sessions, per_repository


def scoring_rounds(sessions, domain, rounds: int, train_share: float):
    """``rounds`` splits of ``sessions`` by split group, seed 0, 1, ...: ``train_share`` to train on, the
    rest held out (val and test alike). Yields (sessions by split, examples by split, held-out examples)."""
    import dataclasses

    from nep_core.examples import build_examples, split_sessions

    held_out_share = (1 - train_share) / 2
    for seed in range(rounds):
        config = dataclasses.replace(domain.examples, seed=seed, split_fractions=(train_share, held_out_share, held_out_share))
        by_split = split_sessions(sessions, config)
        splits, _ = build_examples(by_split, domain, config)
        yield by_split, splits, splits["val"] + splits["test"]


def example_key(example) -> tuple[str, int]:
    """What tells one held-out example from another across rounds: its session and trigger point."""
    return example.session_id, example.trigger


# -- nep serve on loopback ---------------------------------------------------------------------------------


def held_out_contexts(domain, data: str | None, count: int, workload: str = "spread"):
    """``count`` contexts of the test split (else val, else train) and the train examples (for fitting a
    baseline). ``spread``: trigger points spread evenly over the split (cycled when it is smaller);
    ``sessions``: the trigger points of its sessions in order, session after session."""
    examples = load_split_examples(domain, data)
    held_out = examples["test"] or examples["val"] or examples["train"]
    if not held_out:
        raise NepError(f"no examples in {data or 'the default data'} to send as requests")
    if workload == "sessions":
        ordered = sorted(held_out, key=lambda example: (example.session_id, example.trigger))
        return [ordered[index % len(ordered)].context for index in range(count)], examples["train"]
    stride = max(1, len(held_out) // count)
    return [held_out[(index * stride) % len(held_out)].context for index in range(count)], examples["train"]


def session_name(context, prefix: str = "") -> str:
    session = re.sub(r"[^A-Za-z0-9._-]", "_", prefix + (context.session_id or "bench"))[:128] or "bench"
    return session if session[0].isalnum() else f"s{session[:127]}"


def request_body(context, top_k: int, session: str | None = None, extra_events: list[dict] | None = None) -> bytes:
    """A /v1/suggest body, encoded."""
    body = {"session": session or session_name(context), "top_k": top_k}
    body["history"] = [event.to_json() for event in context.history] + (extra_events or [])
    if context.state is not None:
        body["state"] = dict(context.state)
    return json.dumps(body).encode("utf-8")


def start_server(domain: str, model: str, data: str | None, feedback_dir: str, speculate: bool,
                 placement: tuple[str, str] = ("cpu", "auto")) -> tuple[subprocess.Popen, str]:
    """`nep serve` on 127.0.0.1, a free port; a server that exits first is a NepError with its last line."""
    command = [sys.executable, "-m", "nep_core.cli.main", "serve", "--domain", domain, "--model", model]
    command += ["--device", placement[0], "--dtype", placement[1]]
    command += ["--port", "0", "--data-dir", feedback_dir] + (["--data", data] if data else [])
    command += [] if speculate else ["--no-speculate"]
    stderr = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    for line in process.stdout:
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return process, match.group(1)
    process.wait()
    stderr.seek(0)
    said = [line.strip() for line in stderr.read().splitlines() if line.strip()]
    raise NepError(f"nep serve exited with status {process.returncode} before listening" + (f": {said[-1]}" if said else ""))


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=120)

    def connect(self) -> None:
        self.connection.connect()

    def post(self, path: str, body: bytes) -> tuple[int, dict | None, float]:
        """Status, decoded answer (None when it is not JSON) and round-trip milliseconds."""
        started = time.perf_counter()
        self.connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        return response.status, answer, (time.perf_counter() - started) * 1000.0

    def health(self) -> dict:
        self.connection.request("GET", "/v1/health")
        return json.loads(self.connection.getresponse().read())

    def settle(self) -> None:
        """Wait until the server has no speculation queued or running."""
        while self.health()["speculation"]["pending"]:
            time.sleep(0.002)

    def close(self) -> None:
        self.connection.close()


def server_health(url: str) -> dict:
    client = Client(url)
    try:
        return client.health()
    finally:
        client.close()


def run_clients(url: str, plans: list[list[tuple[str, bytes]]]) -> dict:
    """Each plan is one client's requests, (path, encoded body), sent back to back over a keep-alive
    connection of its own; every client connects first, then all start together. Returns the wall
    seconds, how many answers came with each status (``error``: the request raised, a dropped
    connection say; the client reconnects and goes on) and, per path, the round trips (ms) of the 200
    answers alone."""
    statuses = [collections.Counter() for _ in plans]
    latencies: list[dict[str, list[float]]] = [collections.defaultdict(list) for _ in plans]
    start = threading.Barrier(len(plans) + 1)

    def client_loop(index: int) -> None:
        client = Client(url)
        try:
            client.connect()
        except OSError:
            client.close()  # the first request tries again, and counts the error
        start.wait()
        for path, body in plans[index]:
            try:
                status, _, elapsed = client.post(path, body)
            except Exception:  # noqa: BLE001 - an error answer; a client thread must not die of it
                statuses[index]["error"] += 1
                client.close()
                client = Client(url)
                continue
            statuses[index][str(status)] += 1
            if status == 200:
                latencies[index][path].append(elapsed)
        client.close()

    threads = [threading.Thread(target=client_loop, args=(index,)) for index in range(len(plans))]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    merged: dict[str, list[float]] = collections.defaultdict(list)
    for mine in latencies:
        for path, values in mine.items():
            merged[path].extend(values)
    return {"seconds": wall, "statuses": sum(statuses, collections.Counter()), "latencies": dict(merged)}
