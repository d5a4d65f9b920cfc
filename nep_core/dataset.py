"""Where a domain's sessions come from: a collector source, a folder of logs, or the embedded default."""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from collections.abc import Sized
from typing import TYPE_CHECKING, Any, Generator, Iterable, Iterator

from nep_core.collector import CollectReport
from nep_core.errors import NepError, a_value_of
from nep_core.plugins import fault as plugin_fault
from nep_core.session import Session
from nep_core.sessionlog import ReadReport, log_files, read_sessions, write_sessions

if TYPE_CHECKING:
    from nep_core.domain import Domain


def nep_home() -> Path:
    """NEP's data folder: ``$NEP_HOME``, else ``~/.cache/nep``."""
    home = Path(os.environ.get("NEP_HOME") or Path.home() / ".cache" / "nep")
    if home.exists() and not home.is_dir():
        raise NepError(f"NEP_HOME={home} is a file; point NEP_HOME at a folder (NEP keeps its data, logs and feedback there)")
    return home


def parse_source(domain: Domain, source: str) -> tuple[str, str]:
    """``COLLECTOR:ARGUMENT`` (or a bare folder of logs; either may end in `` * N``) to (collector name, argument)."""
    source, _ = split_copies(source)
    name, sep, argument = source.partition(":")
    if sep and name in domain.collectors:
        return name, argument
    if not sep and name in domain.collectors:
        return name, ""
    if Path(source).expanduser().exists():  # "~/logs" in quotes, or after ':' where the shell leaves it
        return "logs", source
    known = ", ".join(sorted(domain.collectors))
    raise NepError(
        f"unknown source '{source}' for domain '{domain.name}': use COLLECTOR:ARGUMENT with a collector of "
        f"{known}, or a folder of session logs"
    )


SOURCE_SEPARATOR = " + "
"""Joins sources whose sessions are used together: ``refactor:?sessions=6000 + lintseq:``."""


COPIES_SEPARATOR = " * "
"""``scripts:mine * 4``: every session of a source four times, to weigh a small source against a large one."""


MAX_COPIES = 1000
"""The most copies ``SOURCE * N`` makes of each session."""


def split_copies(source: str) -> tuple[str, int]:
    """``SOURCE * N`` to (SOURCE, N); a source without it is (source, 1)."""
    head, sep, count = source.rpartition(COPIES_SEPARATOR)
    if not sep:
        return source, 1
    if not count.strip().isdigit() or not 1 <= int(count) <= MAX_COPIES:
        raise NepError(f"'{source}': the count after '*' is a whole number from 1 to {MAX_COPIES} ('{head.strip()} * 4')")
    return head.strip(), int(count)


def copies_of(session: Session, copies: int) -> Iterator[Session]:
    """``session`` and ``copies - 1`` copies of it; a copy (``meta["copy_of"]``) trains with its original only."""
    yield session
    for number in range(1, copies):
        yield dataclasses.replace(session, id=f"{session.id}-copy{number}", meta={**session.meta, "copy_of": session.id})


def split_sources(source: str) -> list[str]:
    """The sources joined in ``source`` (one when nothing is joined)."""
    parts = [part.strip() for part in source.split(SOURCE_SEPARATOR)]
    if len(parts) > 1 and not all(parts):
        raise NepError(f"'{source}': an empty source around '+'; join sources as 'A + B'")
    return parts


def collect(domain: Domain, source: str, report: CollectReport, seed: int = 0, workers: int | None = None) -> Iterator[Session]:
    """Sessions from ``source`` (or each source joined in it, in order) through the domain's
    collectors, each checked to be of this domain. Joined sources are collected side by side in up
    to ``workers`` processes (default: one per core), with the same sessions in the same order."""
    parts = split_sources(source)
    if len(parts) > 1:
        for part in parts:
            parse_source(domain, part)  # every part named right before anything is collected
        workers = min(len(parts), os.cpu_count() or 1) if workers is None else workers
        if workers < 2 or not sys.platform.startswith("linux") or threading.active_count() > 1:  # when forking is safe
            for part in parts:
                yield from collect(domain, part, report, seed)
            return
        yield from _collect_side_by_side(domain, parts, report, seed, workers)
        return
    name, argument = parse_source(domain, source)
    copies = split_copies(source)[1]
    collector = domain.collectors[name]
    sessions = collector.collect(argument, report, seed=seed)
    if sessions is None or isinstance(sessions, (str, bytes, dict)) or not hasattr(sessions, "__iter__"):
        shown = a_value_of(sessions)
        raise plugin_fault(collector, "collect", f"collector '{name}' returned {shown}, not the sessions "
                                                  "(yield each Session; problems go to the report)")
    returned = yield from _checked_sessions(collector, name, domain.name, sessions, copies)
    if isinstance(returned, Sized) and not isinstance(returned, (str, bytes)) and len(returned):  # `return sessions` in a generator: dropped
        raise plugin_fault(collector, "collect", f"collector '{name}' returned {a_value_of(returned)} from a generator (its "
                                                  "function also yields), and Python drops what a generator returns; yield each Session")


def _checked_sessions(collector: Any, name: str, domain_name: str, sessions: Iterable, copies: int) -> Generator[Session, None, Any]:
    """``sessions``, each checked to be a Session of the domain, ``copies`` times; what a generator returned."""
    iterator = iter(sessions)
    while True:
        try:
            session = next(iterator)
        except StopIteration as stop:
            return stop.value
        if not isinstance(session, Session):
            raise plugin_fault(collector, "collect", f"collector '{name}' yielded {a_value_of(session)}, "
                                                      "not a nep_core.session.Session")
        if session.domain != domain_name:
            raise plugin_fault(collector, "collect", f"collector '{name}' yielded a session of domain '{session.domain}', "
                                                      f"not '{domain_name}'")
        yield from copies_of(session, copies)


_DOMAINS_IN_WORKERS: dict[int, Domain] = {}
"""Domains that forked collection workers find by id (set before the fork, so workers inherit it)."""


def _collect_side_by_side(domain: Domain, parts: list[str], report: CollectReport, seed: int, workers: int) -> Iterator[Session]:
    import multiprocessing

    _DOMAINS_IN_WORKERS[id(domain)] = domain
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_leave_interrupts_to_the_parent)
    try:
        pending = [pool.apply_async(_collect_in_worker, (id(domain), part, seed)) for part in parts]
        for result in pending:
            sessions, part_report = result.get()
            for name, amount in part_report.counts.items():
                report.count(name, amount)
            report.warnings.extend(part_report.warnings)
            yield from sessions
    finally:
        pool.terminate()  # at the end, or at once on an error or Ctrl-C, not after the other parts
        pool.join()
        _DOMAINS_IN_WORKERS.pop(id(domain), None)


def _leave_interrupts_to_the_parent() -> None:
    """A worker ignores Ctrl-C (the parent stops the pool) and dies at once on the pool's SIGTERM, whatever
    handler the parent had (``nep train``'s raises KeyboardInterrupt only when Python code runs next)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _collect_in_worker(domain_id: int, part: str, seed: int) -> tuple[list[Session], CollectReport]:
    from nep_core.plugins import as_plugin_fault

    report = CollectReport()
    try:
        return list(collect(_DOMAINS_IN_WORKERS[domain_id], part, report, seed)), report
    except Exception as error:  # named here, where the frames that show the plugin are
        named = as_plugin_fault(error)
        if named is error:
            raise
        raise named from None


def default_data_dir(domain: Domain, progress=None) -> Path:
    """The domain's embedded default dataset, generated once and cached under ``nep_home()``."""
    if not domain.default_source:
        raise NepError(f"domain '{domain.name}' ships no default dataset; pass --data DIR (see `nep collect --help`)")
    parts = split_sources(domain.default_source)
    try:
        versions = [getattr(domain.collectors.get(parse_source(domain, part)[0]), "version", "") for part in parts]
    except NepError as error:  # the plugin's mistake, not the user's: say where the source comes from
        raise NepError(f"domain '{domain.name}' (plugin {domain.plugin}) names a default_source it cannot read: {error}; "
                       "pass --data, or fix the plugin") from None
    key = f"{domain.plugin}|{domain.action_space.version}|{domain.default_source}|{'|'.join(versions)}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    folder = nep_home() / "data" / domain.name / f"default-{digest}"
    if (folder / "DONE").exists():
        return folder
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    for leftover in folder.parent.glob(f".{folder.name}.*.tmp"):  # a killed build's, or this process id's before
        if not _running(leftover.suffixes[-2].lstrip(".")) or leftover == tmp:
            shutil.rmtree(leftover, ignore_errors=True)
    started = time.perf_counter()
    report = CollectReport()
    if progress:
        progress(f"generating the default {domain.name} dataset ({domain.default_source}), once")
    try:
        count = write_sessions(tmp, collect(domain, domain.default_source, report))
        seconds = time.perf_counter() - started
        (tmp / "DONE").write_text(f"sessions={count} seconds={seconds:.2f} source={domain.default_source}\n")
        try:
            os.replace(tmp, folder)
        except OSError:
            if (folder / "DONE").exists():
                shutil.rmtree(tmp, ignore_errors=True)  # another process finished first
            elif folder.exists():  # a folder there without DONE is no finished copy (DONE is written before the rename)
                aside = folder.with_name(f".{folder.name}.{os.getpid()}.stale.tmp")
                os.replace(folder, aside)  # moved, not removed in place: a second builder never sees half a folder
                try:
                    os.replace(tmp, folder)
                except OSError:
                    if not (folder / "DONE").exists():
                        raise
                    shutil.rmtree(tmp, ignore_errors=True)  # another process finished meanwhile
                finally:
                    shutil.rmtree(aside, ignore_errors=True)
            else:
                raise
    except BaseException:  # a Ctrl-C or an error part way: a partial copy is never read, nor resumed (collectors are seeded)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _running(process_id: str) -> bool:
    """Whether a process with this id is running (a building one's folder is left alone)."""
    if not process_id.isdigit():
        return False
    try:
        os.kill(int(process_id), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def load_sessions(domain: Domain, data: str | os.PathLike | None = None, *, strict: bool = True, progress=None) -> tuple[list[Session], ReadReport]:
    """Sessions of ``domain`` from ``data`` (a folder of logs, or COLLECTOR:ARGUMENT), else the default dataset."""
    report = ReadReport()
    if data is None:
        folder = default_data_dir(domain, progress)
    else:
        path = Path(data)
        if not path.exists() and (":" in str(data) or len(split_sources(str(data))) > 1 or COPIES_SEPARATOR in str(data)
                                  or str(data) in domain.collectors):  # ``synthetic``: the collector's default
            collect_report = CollectReport()
            sessions = list(collect(domain, str(data), collect_report))
            report.warnings.extend(collect_report.warnings)
            repeated = [name for name, count in collections.Counter(session.id for session in sessions).items() if count > 1]
            if repeated:  # e.g. `logs + synthetic:5` where the logs were collected from synthetic with the same seed
                report.warnings.append(f"{data}: {len(repeated)} session id(s) come more than once from the joined sources "
                                       f"(e.g. '{repeated[0]}'); each copy is used, as `* 2` would")
            return sessions, report
        folder = path
    if not folder.exists():
        raise NepError(f"{folder}: no such data folder; make one with `nep collect --domain {domain.name} --out {folder}`")
    if not log_files(folder):
        raise NepError(f"{folder}: no session logs (*.jsonl) found; make some with `nep collect --domain {domain.name}`")
    sessions = list(read_sessions(folder, domain=domain.name, strict=strict, report=report, state_problem=domain.encoder.state_problem))
    return sessions, report
