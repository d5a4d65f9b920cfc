"""The ``git`` command line, read through pipes: the commit log with its changed files, and blob contents."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from nep_core.errors import NepError

NULL_SHA = "0" * 40
GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}


@dataclass(frozen=True)
class FileChange:
    """One entry of ``git log --raw``: modes, blob ids, status letter (A, M, D, R, C, T) and paths."""

    old_mode: str
    new_mode: str
    old_blob: str
    new_blob: str
    status: str
    path: bytes
    new_path: bytes | None = None


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    time: int
    subject: str
    changes: tuple[FileChange, ...]


def git(repo: Path, *args: str) -> str:
    """Run a git command in ``repo``; its stdout, or a NepError with git's own message."""
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=GIT_ENV)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise NepError(f"git: {repo}: {message[-1] if message else 'git ' + args[0] + ' failed'}")
    return done.stdout.decode("utf-8", "replace")


def open_repository(path: str) -> Path:
    """The top folder of the repository at ``path``; a NepError when there is none."""
    folder = Path(path or ".").expanduser()
    if not folder.is_dir():
        raise NepError(f"git: '{path}' is not a folder; pass git:PATH with PATH a git repository")
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "--is-bare-repository", "--absolute-git-dir"], capture_output=True, env=GIT_ENV)
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise NepError(f"git: {folder} is not a git repository ({reason[-1] if reason else 'rev-parse failed'})")
    bare, git_dir = done.stdout.decode().split("\n")[:2]
    if bare == "true":  # a bare clone (a server's copy): its history is all there is to read
        return Path(git_dir)
    return Path(git(folder, "rev-parse", "--show-toplevel").strip())


def shallow_boundary(repo: Path) -> set[str]:
    """Commits whose parents a shallow clone lacks (empty for a full clone)."""
    shallow = Path(git(repo, "rev-parse", "--git-path", "shallow").strip())
    shallow = shallow if shallow.is_absolute() else repo / shallow
    return set(shallow.read_text().split()) if shallow.exists() else set()


def commit_times(repo: Path, rev: str, max_commits: int) -> list[tuple[str, int]]:
    """``(sha, commit time in Unix seconds)`` of the history ``git log`` walks from ``rev``, newest first."""
    args = ["log", "--format=%H %ct", *(["-n", str(max_commits)] if max_commits else []), rev, "--"]
    return [(sha, int(time)) for sha, time in (line.split() for line in git(repo, *args).splitlines() if line)]


def has_commits(repo: Path) -> bool:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True, env=GIT_ENV).returncode == 0


LOG_FORMAT = "%H %P%x00%ct%x00%s"
"""A commit's header in ``git log -z --raw``: NUL-separated fields, as its changed files are; a subject, which may hold any
other character (a record marker of control characters was one), never holds a NUL."""
HEADER = re.compile(rb"[0-9a-f]{40,64}( [0-9a-f]{40,64})* ?")  # a root commit has no parents after its space


def iter_commits(repo: Path, rev: str, max_commits: int) -> Iterator[Commit | None]:
    """Commits newest first with their changed files (renames detected), streamed from one ``git log``; None for a record that does not parse."""
    args = ["git", "-C", str(repo), "log", f"--format={LOG_FORMAT}", "--raw", "-z", "--no-abbrev", "-M"]
    args += [*(["-n", str(max_commits)] if max_commits else []), rev, "--"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=GIT_ENV)
    try:
        yield from parse_log(_nul_fields(process.stdout))
        if process.wait() != 0:
            message = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
            raise NepError(f"git: {repo}: {message[-1] if message else 'git log failed'}")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


def _nul_fields(stream) -> Iterator[bytes]:
    """The NUL-terminated fields of ``stream``, read in chunks."""
    buffer = b""
    while chunk := stream.read(1 << 16):
        *fields, buffer = (buffer + chunk).split(b"\0")
        yield from fields
    if buffer:
        yield buffer


def parse_log(fields: Iterator[bytes]) -> Iterator[Commit | None]:
    """Commits from the fields of ``git log -z --raw --format=LOG_FORMAT``: a header (``sha parents``, time, subject),
    then each changed file as ``:modes blobs status`` and its path (two for a rename or copy). A record that does not
    parse is one None, and the fields up to the next header are passed over."""
    fields = iter(fields)
    field = next(fields, None)
    while field is not None:
        if not HEADER.fullmatch(field):
            yield None
            while field is not None and not HEADER.fullmatch(field):
                field = next(fields, None)
            continue
        sha, *parents = field.decode().split()
        time, subject = next(fields, b""), next(fields, b"")
        changes, broken = [], not time.isdigit()
        field = next(fields, None)
        while field is not None and field.lstrip(b"\n").startswith(b":"):
            parts = field.lstrip(b"\n")[1:].decode("utf-8", "replace").split()
            if len(parts) != 5 or not parts[4]:
                broken, field = True, next(fields, None)
                continue
            old_mode, new_mode, old_blob, new_blob, status = parts
            paths = [next(fields, b"") for _ in range(2 if status[0] in "RC" else 1)]
            changes.append(FileChange(old_mode, new_mode, old_blob, new_blob, status[0], *paths))
            field = next(fields, None)
        if field == b"\n" or field == b"":  # the line break after a commit without changed files
            field = next(fields, None)
        yield None if broken else Commit(sha, tuple(parents), int(time), subject.decode("utf-8", "replace"), tuple(changes))


class BlobReader:
    """Blob contents through one ``git cat-file --batch-command`` process (sizes asked first); close it when done."""

    def __init__(self, repo: Path):
        self.process = subprocess.Popen(
            ["git", "-C", str(repo), "cat-file", "--batch-command"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=GIT_ENV,
        )

    def _ask(self, command: str, blob: str) -> list[bytes]:
        self.process.stdin.write(f"{command} {blob}\n".encode())
        self.process.stdin.flush()
        return self.process.stdout.readline().split()

    def size(self, blob: str) -> int | None:
        """The blob's size in bytes (0 for the null id); None when the repository lacks it."""
        if blob == NULL_SHA:
            return 0
        header = self._ask("info", blob)
        return int(header[2]) if len(header) == 3 else None

    def read(self, blob: str) -> bytes | None:
        """The blob's bytes (empty for the null id); None when the repository lacks it."""
        if blob == NULL_SHA:
            return b""
        header = self._ask("contents", blob)
        if len(header) != 3:
            return None
        return self.process.stdout.read(int(header[2]) + 1)[:-1]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait()
        self.process.stdout.close()


def check_git_version() -> None:
    """NepError unless git is installed and new enough for ``cat-file --batch-command`` (2.36)."""
    try:
        done = subprocess.run(["git", "--version"], capture_output=True, env=GIT_ENV)
    except FileNotFoundError:
        raise NepError("git: the git command is not installed; install git (e.g. apt-get install git)") from None
    found = re.search(rb"(\d+)\.(\d+)", done.stdout)
    if not found or (int(found[1]), int(found[2])) < (2, 36):
        raise NepError(f"git: git 2.36 or newer is needed, found {done.stdout.decode().strip() or 'none'}")
