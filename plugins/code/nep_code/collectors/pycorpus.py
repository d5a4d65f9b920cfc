"""A corpus of Python files for the synthetic code collectors (``lintseq``, ``refactor``).

The files of a PATH (default: the running interpreter's standard library, tests left out) are
visited in passes, in an order shuffled by seed; each visit reads and parses the file (a file that
is huge, not UTF-8, unreadable, has unusual line breaks or does not parse is counted, warned about
and never visited again) and hands it over with a random generator seeded by (seed, pass, file).
"""

from __future__ import annotations

import ast
import random
import sysconfig
from pathlib import Path
from typing import Callable, Iterator

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_code.collectors.options import has_plain_line_breaks
from nep_code.syntax import parse_python

SKIPPED_FOLDERS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "node_modules", "venv", ".venv"}
MAX_PASSES = 20

Parsed = tuple[ast.Module, list[str]]


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"]).resolve()


def corpus_files(root: Path) -> list[Path]:
    """The ``.py`` files under ``root`` (or ``root`` itself), tests, virtual environments and hidden folders left out."""
    if root.is_file():
        return [root]
    return sorted(
        path for path in root.rglob("*.py")
        if path.is_file() and not any(part in SKIPPED_FOLDERS or part.startswith(".") for part in path.relative_to(root).parts[:-1])
    )


def read_python(file: Path, report: CollectReport, max_bytes: int) -> Parsed | None:
    """The parsed file and its lines, or None (counted and warned) when it is huge, not UTF-8 or does not parse."""
    try:
        data = file.read_bytes()
        if len(data) > max_bytes:
            report.count("huge files (skipped)")
            return None
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        report.count("non-UTF-8 files (skipped)")
        line = data.count(b"\n", 0, error.start) + 1
        report.warn(f"{file}:{line}: not UTF-8 (byte {error.start}); skipped")
        return None
    except OSError as error:
        report.count("unreadable files (skipped)")
        report.warn(f"{file}:0: cannot be read: {error.strerror}")
        return None
    if not has_plain_line_breaks(text):
        report.count("files with form feeds or other unusual line breaks (skipped)")
        return None
    try:
        tree = parse_python(text, filename=str(file))
    except SyntaxError as error:
        report.count("files that do not parse (skipped)")
        report.warn(f"{file}:{error.lineno or 0}: does not parse: {error.msg}")
        return None
    except (ValueError, RecursionError, MemoryError) as error:
        report.count("files that do not parse (skipped)")
        report.warn(f"{file}:0: does not parse: {type(error).__name__}")
        return None
    return tree, text.splitlines(keepends=True)


class PythonCorpus:
    """The files a collector named ``name`` draws from: ``path``, or the standard library when empty."""

    def __init__(self, name: str, path: str, seed: int, report: CollectReport, max_file_bytes: int):
        root = Path(path).expanduser().resolve() if path else stdlib_root()
        if not root.exists():
            raise NepError(f"{name}: '{path}' is not a Python file or a folder of them")
        files = corpus_files(root)
        if not files:
            raise NepError(f"{name}: no .py files under {root}")
        self.name, self.root, self.label = name, root, root.name if path else "stdlib"
        self.order = list(files)
        random.Random(seed).shuffle(self.order)
        self.seed, self.report, self.max_file_bytes = seed, report, max_file_bytes
        self.skipped: set[Path] = set()

    def skip(self, file: Path) -> None:
        """Never visit ``file`` again."""
        self.skipped.add(file)

    def visits(self, wanted: int, made: Callable[[], int]) -> Iterator[tuple[Path, str, Parsed, random.Random]]:
        """``(file, relative name, parsed, rng)`` pass after pass until ``made()`` reaches ``wanted``,
        or a whole pass makes nothing, or ``MAX_PASSES`` passes are done; then a warning says how many were made and why."""
        seen: set[Path] = set()
        for pass_number in range(MAX_PASSES):
            before = made()
            for file in self.order:
                if made() >= wanted:
                    return
                if file in self.skipped:
                    continue
                parsed = read_python(file, self.report, self.max_file_bytes)
                if parsed is None:
                    self.skip(file)
                    continue
                if file not in seen:
                    seen.add(file)
                    self.report.count("files read")
                relative = file.name if self.root.is_file() else file.relative_to(self.root).as_posix()
                yield file, relative, parsed, random.Random(f"{self.seed}:{pass_number}:{relative}")
            if made() >= wanted:
                return
            if made() == before:
                self.warn_short(made(), wanted, f"a whole pass over the corpus made no new session ({len(seen)} of its "
                                                f"{len(self.order)} files read; the others skipped, counted above)")
                return
        self.warn_short(made(), wanted, f"{MAX_PASSES} passes over the corpus ({len(seen)} files read) are the most made")

    def warn_short(self, made: int, wanted: int, why: str) -> None:
        self.report.warn(f"{self.name}: made {made} of the {wanted} sessions asked: {why}; pass a larger corpus "
                         f"({self.name}:PATH) or ask for fewer")
