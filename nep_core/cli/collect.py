"""``nep collect``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from nep_core.cli.common import console, domain_option, err_console, is_within, warn, warn_each
from nep_core.output_folders import output_folder


def command(
    domain: str = domain_option(),
    source: str = typer.Option(
        ..., "--source", "-s", help="COLLECTOR:ARGUMENT, e.g. synthetic:500, logs:~/nep-logs, git:~/src/repo; join sources with ' + '."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write session logs (.jsonl) into."),
    seed: int = typer.Option(0, "--seed", help="Seed for collectors that randomize (synthetic)."),
    limit: int = typer.Option(0, "--limit", min=0, help="Stop after this many sessions (0: no limit)."),
    append: bool = typer.Option(
        False, "--append", help="Add to an --out folder that already holds session logs; a session with the id of one there replaces it, with a warning naming it."
    ),
) -> None:
    """Collect sessions from a source into a folder of session logs, ready for `nep train --data`.

    Each domain lists its collectors in `nep domains`; every domain has `logs` (a folder of session logs).
    A folder that already holds session logs is refused unless --append is given, so that old and new
    sessions never mix unnoticed.

    Example: nep collect --domain blender --source synthetic:200 --out data/blender
    """
    import itertools
    import os
    import shutil
    import tempfile
    import time

    from nep_core.collector import CollectReport
    from nep_core.dataset import collect
    from nep_core.plugins import get_domain
    from nep_core.sessionlog import found_log_files, log_files, session_id_of, write_sessions

    bundle = get_domain(domain)
    check_not_read(out, bundle, source)
    if not append:
        check_holds_no_logs(out)
    report = CollectReport()
    started = time.perf_counter()
    count = 0
    replaced = []
    # with --append, a session already there under another file name (in a subfolder, say) is replaced too
    held_ids: dict[str, list[Path]] = {}
    for path in found_log_files(out) if append and out.is_dir() else ():
        if session_id := session_id_of(path):
            held_ids.setdefault(session_id, []).append(path)
    with output_folder(out, "--out"):  # a failed collection leaves no files behind, nor a folder made for them
        sessions = collect(bundle, source, report, seed=seed)
        declared: dict[str, int] = {}  # the splits the sessions kept declare (meta["split"])
        if limit > 0:
            sessions = counting_splits(itertools.islice(sessions, limit), declared)
        staging = Path(tempfile.mkdtemp(prefix=".nep-collect-", dir=out))
        try:
            count = write_sessions(staging, sessions)
            written_here: set[Path] = set()
            for written in sorted(staging.iterdir()):
                target = out / written.name
                # other files holding this session, never one this run wrote (a file named for one id may hold another's)
                same_id = [path for path in held_ids.get(session_id_of(written), []) if path != target and path not in written_here]
                if target.exists() and target not in written_here:
                    replaced.append(written.name)
                replaced.extend(str(path.relative_to(out)) for path in same_id)
                os.replace(written, target)
                written_here.add(target)
                for path in same_id:
                    path.unlink(missing_ok=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    seconds = time.perf_counter() - started
    warn_each(report.warnings)
    if declared and "train" not in declared:
        warn(f"--limit {limit} kept sessions that declare no train split ({', '.join(f'{name}: {number}' for name, number in sorted(declared.items()))}): "
             "the source split everything it read, and the newest sessions are its val and test; ask the source itself "
             "for fewer (for git: git:REPO?max_commits=N) so that its splits are made of what is kept")
    if replaced:
        shown = ", ".join(replaced[:5]) + (f" and {len(replaced) - 5} more" if len(replaced) > 5 else "")
        warn(f"{len(replaced)} session log(s) already in {out} replaced by new ones with the same session id: {shown}")
    counts = ", ".join(f"{name}: {value}" for name, value in sorted(report.counts.items()))
    if count == 0:  # the counts say what was passed over; the warnings above, why
        err_console.print(f"[red]error:[/red] {escape(source)}: no sessions to write" + (f" ({escape(counts)})" if counts else ""),
                          markup=True, soft_wrap=True, highlight=False)
        raise typer.Exit(1)
    held = f"; {out} now holds {len(log_files(out))}" if append else ""
    # one line each, never folded (rich folds at 80 columns in a pipe: a script reading them got half a line)
    console.print(f"wrote {count} session{'' if count == 1 else 's'} to {out} in {seconds:.1f}s ({count / max(seconds, 1e-9):.1f} sessions/s){held}",
                  soft_wrap=True)
    if counts:
        console.print(counts, soft_wrap=True)


def counting_splits(sessions, declared: dict[str, int]):
    """``sessions``, each counted in ``declared`` by the split its ``meta["split"]`` declares, if any."""
    for session in sessions:
        if isinstance(split := session.meta.get("split"), str):
            declared[split] = declared.get(split, 0) + 1
        yield session


def check_holds_no_logs(out: Path) -> None:
    """Refuse an ``--out`` that already holds session logs: the sessions written would mix in with them
    unnoticed (a train on the folder reads both), replacing those with the same ids; ``--append`` allows it."""
    from nep_core.errors import NepError
    from nep_core.sessionlog import found_log_files

    found = next(found_log_files(out), None) if out.is_dir() else None  # the first is enough: --out ~ is not walked whole
    if found is not None:
        raise NepError(f"--out {out} already holds session logs (such as {found.relative_to(out)}); "
                       "pass a new or empty folder, or --append to add these sessions to them (one with the same id is replaced)")


def check_not_read(out: Path, bundle, source: str) -> None:
    """Refuse an ``--out`` that is, or is inside, a folder of session logs the sources read, or the
    apps' and the server's own log folders: collecting would replace logs with what was read of them,
    which leaves out every line the reader skipped. (Sources that read code or drawings write nothing
    over what they read.)"""
    from nep_core.app_logs import AppLogCollector
    from nep_core.collector import LogCollector
    from nep_core.dataset import nep_home, parse_source, split_sources
    from nep_core.errors import NepError

    home = nep_home()
    folders = [(home / "logs", "the apps' session logs"), (home / "feedback", "the server's feedback logs")]
    for part in split_sources(source):
        name, argument = parse_source(bundle, part)
        if not isinstance(bundle.collectors.get(name), (LogCollector, AppLogCollector)):
            continue
        where = argument.split("?", 1)[0]
        path = Path(where).expanduser() if where else None  # ``refactor:?sessions=3`` names no folder
        if path is not None and path.is_dir():
            folders.append((path, f"read by the source '{part}'"))
    for folder, what in folders:
        if is_within(out, folder):
            raise NepError(f"--out {out} is inside {folder} ({what}): collecting there would replace logs with what was read of "
                           "them; pass a folder of its own")
