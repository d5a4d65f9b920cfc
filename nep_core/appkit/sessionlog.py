"""The crash-safe session log, in the format ``nep_core.sessionlog.SessionLogWriter`` writes.

Shipped in the Blender add-on and the Krita plugin as their ``sessionlog.py`` (standard library
only). Append-only; every record is one line, flushed and fsynced before ``append`` returns. The file
is created with its header on the first record, so an app session that records nothing leaves no
file behind. A file whose last line a crash tore gets a ``{"recovered": true}`` marker first. A
record holding NaN or infinity is refused (ValueError): the log's readers refuse such a line.
"""

import datetime
import json
import math
import os
import uuid


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_session_id(app):
    """``<app>-<local date>-<time>-<8 hex digits>``, e.g. ``krita-20261201-130000-0123abcd``."""
    return f"{app}-{datetime.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"


def finite(value):
    """Whether a JSON value holds only finite numbers (the log format refuses NaN and infinity)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return all(finite(item) for item in value)
    return True


class SessionLog:
    """One session log file."""

    def __init__(self, path, header):
        self.path = path
        self.header = header
        self._fd = -1
        self._torn = False  # a write failed: the file may end in a torn line, or in the newline after one

    def append(self, record):
        if not finite(record):
            raise ValueError("a record with a non-finite number is not written")
        if self._fd < 0:
            self._open()
        try:
            self._write(record)
        except OSError:  # a full disk: the next append reopens, ends the torn line and marks the recovery
            self._torn = True
            self.close()
            raise

    def _open(self):
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if not _holds_a_line(self.path):  # empty, or a header torn before its end: write it anew
                os.ftruncate(self._fd, 0)
                self._write(self.header)
            else:
                ends_a_line = _last_byte(self.path) == b"\n"
                if self._torn or not ends_a_line:
                    marker = json.dumps({"recovered": True, "at": utc_now()}, separators=(",", ":")) + "\n"
                    self._write_raw((b"" if ends_a_line else b"\n") + marker.encode("utf-8"))
            self._torn = False
        except BaseException:
            self._torn = True
            self.close()
            raise

    def _write(self, record):
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
        self._write_raw(line.encode("utf-8"))

    def _write_raw(self, data):
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _holds_a_line(path):
    """Whether the file holds at least one whole line."""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(65536)
            if not chunk:
                return False
            if b"\n" in chunk:
                return True


def _last_byte(path):
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1)
