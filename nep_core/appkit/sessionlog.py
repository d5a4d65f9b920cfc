"""The crash-safe session log, in the format ``nep_core.sessionlog.SessionLogWriter`` writes.

Shipped in the Blender add-on and the Krita plugin as their ``sessionlog.py`` (standard library
only). Append-only: ``append`` writes one record, ``extend`` several; a call's records are all
encoded first (one that cannot be, holding NaN, infinity or a lone surrogate, or nested too deeply
for JSON, is a ValueError and nothing is written), then written as whole lines in one write, fsynced before the call returns. The
file is created with its header on the first record, so an app session that records nothing leaves
no file behind, and its folder (and every folder made for it) is fsynced then, so the new file
survives a power cut. Writers of one log in different processes take turns under an advisory lock
(POSIX; on Windows each app keeps to its own logs), and what precedes the first records is decided
under it from what the file then holds, on the first write and whenever the file is not as this writer's
last write left it (another process wrote since). A file whose last line a crash tore gets a
``{"recovered": true}`` marker first. A file moved or deleted while the log is open is left alone: the
next record makes a new log at the path. A file already at the log's path
whose first line is not a header of the log's domain is never written to (``ForeignFile``), nor is a
symbolic link (never followed, where the system has ``O_NOFOLLOW``; on Windows it is looked for first)
or anything but a regular file; and a file holding only a torn header is started anew only when it is
this writer's to start: a regular file with no other link, owned by the writing user.
"""

import contextlib
import datetime
import errno
import json
import math
import os
import stat
import uuid

try:
    import fcntl
except ImportError:  # Windows: no advisory locks there; one writer per log, as each app keeps its own
    fcntl = None

HEADER_START = b'{"nep":'
"""How a header line starts: a file holding no whole line is a torn header, started anew, only if it begins so."""
MAX_HEADER_BYTES = 1024 * 1024
"""A first line longer than this is no header."""
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
"""Open fails on a symbolic link (0 where the system has no such flag: Windows)."""
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
"""Opening a FIFO or a device at the path never waits (cleared again for the regular file a log is)."""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_session_id(app):
    """``<app>-<local date>-<time>-<8 hex digits>``, e.g. ``krita-20261201-130000-0123abcd``."""
    return f"{app}-{datetime.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"


def finite(value):
    """Whether a JSON value holds only finite numbers (the log format refuses NaN and infinity). Iterative:
    a deeply nested value (a broken or hostile server's) is looked through without Python's recursion limit."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return True


class ForeignFile(ValueError):
    """The log's path holds a file that is not a session log of the log's domain: it is never written to."""

    def __init__(self, path, domain, reason="its first line is not a NEP header of that domain"):
        super().__init__(f"{path} is not a session log of domain '{domain}' ({reason}); nothing was written to it")
        self.path = path
        self.domain = domain


class SessionLog:
    """One session log file."""

    def __init__(self, path, header):
        self.path = path
        self.header = header
        self._fd = -1
        self._torn = False  # a write failed: the file may end in a torn line, or in the newline after one
        self._end = -1  # the file's size after this writer's last write (-1: none yet); another size, and the file is looked at

    def append(self, record):
        self.extend([record])

    def extend(self, records):
        """Append ``records`` in one write and one fsync: all of them, or none when one cannot be encoded."""
        data = b"".join(_line(record) for record in records)
        if not data:
            return
        if self._fd >= 0 and not self._still_at_path():
            self._close_file()  # moved or deleted meanwhile: the records go to a new log at the path
        if self._fd < 0:
            self._open_file()
        failure = None
        with _exclusive(self._fd):  # another process writing the same log waits (POSIX)
            try:  # a line another process tore since this writer's last write is ended first
                lead = self._lead() if os.fstat(self._fd).st_size != self._end else b""
            except BaseException as error:  # a foreign file, or one that cannot be read
                failure = error
            else:
                try:
                    _write_all(self._fd, lead + data)
                    self._end = os.lseek(self._fd, 0, os.SEEK_CUR)  # appending: the end of this write
                except OSError as error:  # a full disk: the next call reopens, ends the torn line and marks the recovery
                    failure, self._torn = error, True
        if failure is not None:
            self._close_file()  # after the lock is let go: its file descriptor must still be open then
            raise failure
        self._torn = False

    def _still_at_path(self):
        """Whether the open file is still the one at the path: not moved, deleted or replaced since it was opened."""
        try:
            at_path = os.stat(self.path)
        except FileNotFoundError:
            return False
        except OSError:  # a passing failure (a network folder's EIO, ESTALE): the open file is kept, not reopened
            return True
        held = os.fstat(self._fd)
        return held.st_nlink > 0 and (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)

    def _open_file(self):
        """Open the file for appending (and reading what it holds), creating it and its folders (each fsynced
        into its parent); ``ForeignFile`` when the path is a symbolic link or holds no regular file."""
        folder = os.path.dirname(self.path) or "."
        _make_folders(folder)
        try:  # O_EXCL: a symbolic link at the path, even a dangling one, is an existing file
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            self._fd = self._open_existing()
        else:
            sync_folder(folder)
        self._end = -1

    def _open_existing(self):
        domain = self.header.get("domain")
        if not NOFOLLOW and os.path.islink(self.path):  # no O_NOFOLLOW (Windows): looked for first
            raise ForeignFile(self.path, domain, "a symbolic link, which is never followed")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | NOFOLLOW | NONBLOCK)
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.EMLINK) or os.path.islink(self.path):  # EMLINK: FreeBSD's O_NOFOLLOW
                raise ForeignFile(self.path, domain, "a symbolic link, which is never followed") from None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ForeignFile(self.path, domain, "not a regular file")
            if NONBLOCK and fcntl is not None:
                fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~NONBLOCK)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _lead(self):
        """What must precede the records, from what the file holds now (the lock held, so whichever
        writer made the file): the header of an empty file or of one whose header a crash tore, the end
        of a torn line and the recovery marker, or nothing."""
        first = _first_line(self._fd)  # the open file's, not whatever the path names now
        if first is not None and not first.endswith(b"\n") and HEADER_START.startswith(first[: len(HEADER_START)]):
            if not self._may_start_anew():
                raise ForeignFile(self.path, self.header.get("domain"), "a torn header in a file that is not this writer's to start anew")
            os.ftruncate(self._fd, 0)  # empty, or a header torn before its end: written anew
            return _line(self.header)
        if first is None or not self._is_header(first):
            raise ForeignFile(self.path, self.header.get("domain"))
        ends_a_line = _last_byte(self._fd) == b"\n"
        if self._torn or not ends_a_line:
            return (b"" if ends_a_line else b"\n") + _line({"recovered": True, "at": utc_now()})
        return b""

    def _may_start_anew(self):
        """Whether the open file is a log's own to cut to nothing: a regular file with no other name (a hard
        link would cut the file elsewhere too), owned by the writing user (as a file a writer made is)."""
        status = os.fstat(self._fd)
        owner = getattr(os, "geteuid", None)  # none on Windows
        return stat.S_ISREG(status.st_mode) and status.st_nlink == 1 and (owner is None or status.st_uid == owner())

    def _is_header(self, line):
        try:
            header = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return False
        return isinstance(header, dict) and header.get("nep") == 1 and header.get("domain") == self.header.get("domain")

    def close(self):
        self._close_file()

    def _close_file(self):  # not ``close``, which a subclass may guard with the lock its ``extend`` holds
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _line(record):
    """``record`` as one encoded line; ValueError when the log cannot hold it (never RecursionError)."""
    if not finite(record):
        raise ValueError("a record with a non-finite number is not written")
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
    except RecursionError:
        raise ValueError("a record nested too deeply for JSON is not written") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a record holding a lone surrogate (text that is not Unicode) is not written") from None


@contextlib.contextmanager
def _exclusive(fd):
    """Hold an exclusive advisory lock on the open file ``fd`` (where the system has them)."""
    if fcntl is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _make_folders(folder):
    """``os.makedirs``, then fsync the parent of each folder it made, so the new folders survive a power cut."""
    missing = []
    current = os.path.abspath(folder)
    while not os.path.isdir(current) and os.path.dirname(current) != current:
        missing.append(current)
        current = os.path.dirname(current)
    os.makedirs(folder, exist_ok=True)
    for made in reversed(missing):
        sync_folder(os.path.dirname(made))


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def sync_folder(folder):
    """fsync a folder, so a file just made or renamed in it survives a power cut (where the system allows it)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder
        return
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse to sync a folder
        pass
    finally:
        os.close(descriptor)


def _first_line(fd):
    """The first line of the open file ``fd`` with its newline, or all it holds when it has no whole
    line; None when its first line is longer than a header can be. (Appends still go to the end.)"""
    head = b""
    os.lseek(fd, 0, os.SEEK_SET)
    while b"\n" not in head and len(head) <= MAX_HEADER_BYTES:
        chunk = os.read(fd, 65536)
        if not chunk:
            return head
        head += chunk
    end = head.find(b"\n")
    return head[: end + 1] if 0 <= end < MAX_HEADER_BYTES else None


def _last_byte(fd):
    os.lseek(fd, -1, os.SEEK_END)
    return os.read(fd, 1)
