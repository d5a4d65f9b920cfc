"""``synthetic:N``: N procedural modeling sessions, generated in bpy worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Iterable

from nep_core.actions import Action
from nep_core.collector import Collector, CollectReport
from nep_core.errors import NepError
from nep_core.session import Event, Session
from nep_blender.registry import installed_bpy_version, load_registry

SECONDS_PER_SESSION_LIMIT = 5.0
"""A worker that takes longer than this per session (plus a minute to start) is stopped."""


class SyntheticCollector(Collector):
    name = "synthetic"
    version = "2"
    description = "procedural modeling sessions run in real bpy (19 recipe families); ARGUMENT is the number of sessions"

    def __init__(self, workers: int | None = None):
        self.workers = workers

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        if not argument.isdigit() or int(argument) < 1:
            raise NepError(f"synthetic: ARGUMENT is a number of sessions, not '{argument}'")
        version = installed_bpy_version()
        if version is None:
            raise NepError("synthetic: blender sessions are generated in bpy, which is not installed; pip install 'nep[blender]'")
        count = int(argument)
        started = time.perf_counter()
        results = self._run_workers(seed, count)
        registry = load_registry()
        families: Counter = Counter()
        for record in sorted(results, key=lambda item: item["index"]):
            if "error" in record:
                report.count("sessions dropped (a recipe step failed)")
                report.warn(f"session {record['index']}: {record['error']}")
                continue
            events = []
            for event in record["events"]:
                action = event["action"]
                spec = registry.get(action["kind"])
                events.append(
                    Event(
                        t=event["t"],
                        action=Action(
                            kind=action["kind"], args=action.get("args", {}), context=action["context"],
                            edit=spec.is_edit if spec is not None else False,
                        ),
                    )
                )
            families.update(record["families"])
            report.count("sessions")
            report.count("actions", len(events))
            yield Session(
                id=f"blender-synth-{seed}-{record['index']:05d}",
                domain="blender",
                events=events,
                meta={"app": f"bpy {version}", "source": "synthetic", "families": record["families"], "seed": seed},
            )
        seconds = time.perf_counter() - started
        report.count("recipe families", len(families))
        report.count("generation ms per session", round(1000 * seconds / count))

    def _run_workers(self, seed: int, count: int) -> list[dict]:
        workers = max(1, min(self.workers or os.cpu_count() or 1, count))
        with tempfile.TemporaryDirectory(prefix="nep-blender-synthetic-") as scratch:
            processes = []
            for worker in range(workers):
                job, out = Path(scratch) / f"job{worker}.json", Path(scratch) / f"out{worker}.jsonl"
                job.write_text(json.dumps({"seed": seed, "indices": list(range(worker, count, workers))}))
                log = open(Path(scratch) / f"log{worker}.txt", "w")
                process = subprocess.Popen(
                    [sys.executable, "-m", "nep_blender.synthetic.worker", str(job), str(out)],
                    stdout=log, stderr=subprocess.STDOUT,
                )
                processes.append((process, out, log))
            deadline = time.monotonic() + 60 + SECONDS_PER_SESSION_LIMIT * count / workers
            results = []
            for process, out, log in processes:
                try:
                    process.wait(timeout=max(1.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                log.close()
                if process.returncode != 0:
                    tail = (Path(log.name).read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
                    raise NepError(f"synthetic: a bpy worker stopped with status {process.returncode}: {tail}")
                with open(out, encoding="utf-8") as handle:
                    results.extend(json.loads(line) for line in handle if line.strip())
            return results
