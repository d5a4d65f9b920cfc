"""``synthetic:N``: N procedural modeling sessions, generated in bpy worker processes.

bpy never runs in the calling process (it is heavy next to torch, and one scene per process):
``os.cpu_count()`` workers (``python -m nep_blender.synthetic.worker``) each generate every
W-th session. A worker that crashes, or writes no session for ``SESSION_TIMEOUT`` seconds, is
stopped; the session it was on is reported and dropped, and a fresh worker takes the rest of its
share. Sessions depend only on (seed, index), so the worker count does not change them.

``synthetic:N?scripts=SHARE`` also writes that share of the sessions as a script would run them, one
function per recipe family, in one author's habits (``script_form.as_scripts``), in the same split as
the recording they come from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Iterable

from nep_core.actions import Action
from nep_core.collector import Collector, CollectReport
from nep_core.errors import NepError
from nep_core.examples import unit_hash
from nep_core.session import Event, Session
from nep_core.source_options import parse_argument
from nep_blender.registry import installed_bpy_version
from nep_blender.synthetic.recipes import FAMILIES
from nep_blender.synthetic.script_form import ScriptAuthor, as_scripts

SESSION_TIMEOUT = 60.0
"""Seconds a worker may go without finishing a session (bpy's start-up included) before it is stopped."""

MAX_RESTARTS = 3
"""Fresh workers started for one share after failures, before the rest of the share is given up."""


class SyntheticCollector(Collector):
    name = "synthetic"
    version = "21"  # part of the default dataset's cache key: bump when the sessions change
    description = (
        f"procedural modeling sessions run in real bpy ({len(FAMILIES)} recipe families); ARGUMENT is the number of "
        "sessions; ?scripts=SHARE also writes that share of them as scripts"
    )

    def __init__(self, workers: int | None = None):
        self.workers = workers

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        argument, options = parse_argument("synthetic", argument, {"scripts": 0.0})
        if not argument.isdigit() or int(argument) < 1:
            raise NepError(f"synthetic: ARGUMENT is a number of sessions, not '{argument}'")
        if options["scripts"] > 1:
            raise NepError(f"synthetic: option 'scripts' is a share from 0 to 1, not {options['scripts']}")
        version = installed_bpy_version()
        if version is None:
            raise NepError("synthetic: blender sessions are generated in bpy, which is not installed; pip install bpy")
        from nep_blender.registry import load_registry

        registry = load_registry()  # cached for the workers, which load it too
        count = int(argument)
        workers = max(1, min(self.workers or os.cpu_count() or 1, count))
        started = time.perf_counter()
        records = generate_records(seed, count, workers, report)
        seconds = time.perf_counter() - started
        families: Counter = Counter()
        for index in sorted(records):
            record = records[index]
            if "error" in record:
                report.count("sessions dropped (a recipe step failed)")
                report.warn(f"synthetic session {index}: {record['error']}")
                continue
            events = [
                Event(t=event["t"], action=Action(**event["action"], edit=registry.operators[event["action"]["kind"]].is_edit))
                for event in record["events"]
            ]
            families.update(record["families"])
            report.count("sessions")
            report.count("actions", len(events))
            report.count("edits", sum(event.action.edit for event in events))
            report.count("undos", sum(event.action.kind == "ed.undo" for event in events))
            session = Session(
                id=f"blender-synth-{seed}-{index:05d}",
                domain="blender",
                events=events,
                meta={
                    "source": "synthetic", "family": record["families"][0], "families": record["families"], "theme": record["theme"],
                    "app": f"bpy {version}", "seed": seed, "start_scene": record["start_scene"],
                    "family_starts": record["family_starts"],
                },
            )
            yield session
            if unit_hash("script", seed, index) < options["scripts"]:
                author = ScriptAuthor.draw(seed, index, lambda kind: registry.operators[kind].is_edit)
                scripts = as_scripts(session, session.meta["family_starts"], author)
                report.count("sessions also written as scripts", bool(scripts))
                report.count("script functions", len(scripts))
                yield from scripts
        for family, sessions in sorted(families.items()):
            report.count(f"family {family}", sessions)
        report.count("recipe families", len(families))
        report.count("generation ms", round(1000 * seconds))
        report.count("generation ms per session", round(1000 * seconds / count))


def generate_records(seed: int, count: int, workers: int, report: CollectReport) -> dict[int, dict]:
    """Worker records by session index, from ``workers`` bpy processes in parallel."""
    records: dict[int, dict] = {}
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nep-blender-synthetic-") as scratch:
        threads = [
            threading.Thread(target=_run_share, args=(seed, list(range(worker, count, workers)), Path(scratch) / f"worker{worker}", records, failures))
            for worker in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for message in failures:
        report.warn(message)
    if len(records) < count:
        report.count("sessions lost to failed workers", count - len(records))
    return records


def _run_share(seed: int, indices: list[int], folder: Path, records: dict[int, dict], failures: list[str]) -> None:
    """Generate ``indices`` in worker processes, restarting after a crash or a hang."""
    folder.mkdir()
    for attempt in range(MAX_RESTARTS + 1):
        if not indices:
            return
        done, problem = _run_worker(seed, indices, folder / f"attempt{attempt}")
        records.update(done)
        indices = [index for index in indices if index not in done]
        if problem is None and indices:
            problem = "exited early"
        if problem is None:
            return
        stuck = indices.pop(0) if indices else None
        failures.append(f"synthetic: a bpy worker {problem} at session {stuck}; that session is dropped")
    if indices:
        failures.append(f"synthetic: gave up on sessions {indices[0]}..{indices[-1]} after {MAX_RESTARTS} worker restarts")


def _run_worker(seed: int, indices: list[int], folder: Path) -> tuple[dict[int, dict], str | None]:
    """Run one worker on ``indices``: (the records it wrote, None or what went wrong)."""
    folder.mkdir()
    job, out, log_path = folder / "job.json", folder / "out.jsonl", folder / "log.txt"
    job.write_text(json.dumps({"seed": seed, "indices": indices}))
    out.touch()
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "nep_blender.synthetic.worker", str(job), str(out)], stdout=log, stderr=subprocess.STDOUT)
        written, last_progress, problem = 0, time.monotonic(), None
        while process.poll() is None:
            time.sleep(0.1)
            lines = out.read_bytes().count(b"\n")
            if lines > written:
                written, last_progress = lines, time.monotonic()
            elif time.monotonic() - last_progress > SESSION_TIMEOUT:
                process.kill()
                process.wait()
                problem = f"wrote nothing for {SESSION_TIMEOUT:.0f}s and was stopped"
    done = {}
    for line in out.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.endswith("\n"):
            record = json.loads(line)
            done[record["index"]] = record
    if problem is None and process.returncode != 0:
        tail = (log_path.read_text(errors="replace").strip().splitlines() or ["no output"])[-1]
        problem = f"stopped with status {process.returncode} ({tail})"
    return done, problem
