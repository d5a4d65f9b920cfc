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


def commit_times(repo: Path, rev: str, max_commits: int) -> list[int]:
    """Commit times (Unix seconds) of the history ``git log`` walks from ``rev``."""
    args = ["log", "--format=%ct", *(["-n", str(max_commits)] if max_commits else []), rev, "--"]
    return [int(line) for line in git(repo, *args).split()]


def has_commits(repo: Path) -> bool:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True, env=GIT_ENV).returncode == 0


COMMIT_MARK, COMMIT_MARK_FORMAT = b"\x01nep-commit\x02", "%x01nep-commit%x02"
"""What starts each commit's record in ``git log``'s output: a subject may hold any one control character."""


def iter_commits(repo: Path, rev: str, max_commits: int) -> Iterator[Commit | None]:
    """Commits newest first with their changed files (renames detected), streamed from one ``git log``; None for a record that does not parse."""
    args = ["git", "-C", str(repo), "log", f"--format={COMMIT_MARK_FORMAT}%H %P%x02%ct%x02%s", "--raw", "-z", "--no-abbrev", "-M"]
    args += [*(["-n", str(max_commits)] if max_commits else []), rev, "--"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=GIT_ENV)
    try:
        buffer = b""
        while chunk := process.stdout.read(1 << 16):
            buffer += chunk
            *records, buffer = buffer.split(COMMIT_MARK)
            yield from (_commit(record) for record in records if record)
        if buffer:
            yield _commit(buffer)
        if process.wait() != 0:
            message = process.stderr.read().decode("utf-8", "replace").strip().splitlines()
            raise NepError(f"git: {repo}: {message[-1] if message else 'git log failed'}")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


def _commit(record: bytes) -> Commit | None:
    try:
        return _parse_commit(record)
    except (ValueError, IndexError):
        return None


def _parse_commit(record: bytes) -> Commit:
    header, _, rest = record.partition(b"\0")
    ids, time, subject = header.decode("utf-8", "replace").split("\x02", 2)
    sha, *parents = ids.split()
    fields = rest.lstrip(b"\n").split(b"\0")
    changes, index = [], 0
    while index < len(fields) and fields[index].startswith(b":"):
        old_mode, new_mode, old_blob, new_blob, status = fields[index][1:].decode().split()
        if status[0] in "RC":
            changes.append(FileChange(old_mode, new_mode, old_blob, new_blob, status[0], fields[index + 1], fields[index + 2]))
            index += 3
        else:
            changes.append(FileChange(old_mode, new_mode, old_blob, new_blob, status[0], fields[index + 1]))
            index += 2
    return Commit(sha, tuple(parents), int(time), subject, tuple(changes))


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
