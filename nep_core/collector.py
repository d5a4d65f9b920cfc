"""Collectors: where sessions come from (logs, git, scripts, exports, a synthetic generator)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from nep_core.session import Session


@dataclass
class CollectReport:
    """Counts and warnings a collector gathers while it works; ``nep collect`` prints them."""

    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def count(self, name: str, amount: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + amount

    def warn(self, message: str) -> None:
        self.warnings.append(message)


class Collector(ABC):
    """Yields sessions from a source. ``nep collect --source NAME:ARGUMENT`` calls ``collect(ARGUMENT, ...)``."""

    name: str = ""
    description: str = ""
    version: str = ""
    """Bump it when the sessions a generator makes change: cached default datasets are keyed by it."""

    @abstractmethod
    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        """Sessions from ``argument`` (a path, a count...); problems go to ``report``, not exceptions."""


class LogCollector(Collector):
    """Session logs (JSONL) in a folder: what apps record and what ``nep serve`` appends as feedback."""

    name = "logs"
    description = "session logs (*.jsonl) in a folder, as apps and `nep serve` write them"

    def __init__(self, domain: str, state_problem: Callable[[Any, str], str | None] | None = None):
        self.domain = domain
        self.state_problem = state_problem
        """The domain encoder's ``state_problem``: a log with a state snapshot it cannot read is skipped."""

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        from nep_core.errors import NepError
        from nep_core.sessionlog import ReadReport, read_sessions

        if not argument.strip():  # `logs:` would read the current folder, which nobody means
            raise NepError("logs: name the folder of session logs to read (logs:DIR)")
        read_report = ReadReport()
        argument = str(Path(argument).expanduser())  # the shell leaves `logs:~/x` as it is
        for session in read_sessions(argument, domain=self.domain, strict=False, report=read_report, state_problem=self.state_problem):
            report.count("sessions")
            yield session
        report.count("bad lines skipped", read_report.skipped_lines)
        report.warnings.extend(read_report.warnings)
