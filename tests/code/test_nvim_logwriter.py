"""The Neovim plugin's session-log writer (nep/logwriter.lua) in a real headless Neovim: a write that
fails (a file size limit: EFBIG) or comes back short must neither be reported as written nor glue the
next record onto a torn fragment; the log stays readable by nep_core.sessionlog.read_session.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nep_code.cli import NVIM_PLUGIN
from nep_core.sessionlog import ReadReport, read_session

NVIM = shutil.which("nvim")
BASH = shutil.which("bash")
needs_nvim = pytest.mark.skipif(NVIM is None, reason="nvim is not installed (Debian: apt-get install neovim)")

HEADER = {"nep": 1, "domain": "code", "session": "s1", "created": "2026-01-01T00:00:00Z", "meta": {"source": "nvim"}}

# Runs SCRIPT (a Lua chunk that sets `result` fields) with the writer module loaded; always quits.
PRELUDE = """
local result = {}
local logwriter = require("nep.logwriter")
local path = os.getenv("NEP_TEST_LOG")
local header = vim.json.decode(os.getenv("NEP_TEST_HEADER"))
local function event(t, insert)
  return { t = t, action = { kind = "edit", target = { file = "m.py", line = 1 },
    args = { delete = 0, insert = insert or ("line " .. t .. "\\n") } } }
end
local ok, err = pcall(function()
%s
end)
if not ok then result.error = tostring(err) end
local handle = assert(io.open(os.getenv("NEP_TEST_RESULT"), "w"))
handle:write(vim.json.encode(result))
handle:close()
vim.cmd("qall!")
"""


def run_lua(tmp_path: Path, body: str, *, size_limit_blocks: int | None = None) -> dict:
    """Run ``body`` in ``nvim --headless -u NONE`` with the plugin on the runtimepath; under a soft file
    size limit of ``size_limit_blocks`` (bash ``ulimit -f``, 1024-byte blocks) with SIGXFSZ ignored, so
    a write past it fails with EFBIG instead of killing Neovim."""
    script = tmp_path / "script.lua"
    script.write_text(PRELUDE % body)
    result = tmp_path / "result.json"
    result.unlink(missing_ok=True)
    env = {**os.environ, "NEP_TEST_LOG": str(tmp_path / "logs" / "s1.jsonl"), "NEP_TEST_HEADER": json.dumps(HEADER),
           "NEP_TEST_RESULT": str(result), "XDG_STATE_HOME": str(tmp_path / "state")}
    command = [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "--cmd", f"set rtp+={NVIM_PLUGIN}", "-c", f"luafile {script}"]
    if size_limit_blocks is not None:
        command = [BASH, "-c", f"trap '' XFSZ; ulimit -S -f {size_limit_blocks}; exec {shlex.join(command)}"]
    completed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.exists(), f"the script wrote no result: rc={completed.returncode} stderr={completed.stderr[-2000:]!r}"
    data = json.loads(result.read_text())
    assert "error" not in data, data["error"]
    return data


def read_log(tmp_path: Path) -> tuple[list[float], ReadReport]:
    report = ReadReport()
    session = read_session(tmp_path / "logs" / "s1.jsonl", report=report)
    assert session.id == "s1"
    return [event.t for event in session.events], report


@needs_nvim
@pytest.mark.skipif(not sys.platform.startswith("linux") or BASH is None, reason="a file size limit through bash ulimit and setrlimit (Linux)")
def test_a_record_past_a_file_size_limit_is_reported_failed_and_the_log_recovers_when_the_limit_is_lifted(tmp_path):
    # Under a 1 KiB limit: three small records fit, a 2000-byte one is torn at the limit (EFBIG), and one
    # more fails too while the limit holds. Then the soft limit is raised to the hard one (setrlimit
    # through LuaJIT's FFI) and the next appends reopen the file, end the torn line, mark the recovery.
    data = run_lua(tmp_path, """
  local writer = logwriter.open(path, header)
  result.small = { writer:append(event(1)), writer:append(event(2)), writer:append(event(3)) }
  local written, why = writer:append(event(4, string.rep("x", 2000) .. "\\n"))
  result.big = { written = written, why = tostring(why), error = tostring(writer.error) }
  result.size_at_limit = vim.loop.fs_stat(path).size
  result.still_limited = writer:append(event(5))
  local ffi = require("ffi")
  ffi.cdef("struct nep_test_rlimit { unsigned long cur; unsigned long max; };"
    .. "int getrlimit(int, struct nep_test_rlimit *); int setrlimit(int, const struct nep_test_rlimit *);")
  local limit = ffi.new("struct nep_test_rlimit[1]")
  assert(ffi.C.getrlimit(1, limit) == 0)  -- RLIMIT_FSIZE
  limit[0].cur = limit[0].max
  assert(ffi.C.setrlimit(1, limit) == 0)
  result.after = { writer:append(event(6)), writer:append(event(7)) }
  result.records = writer.records
  writer:close()
""", size_limit_blocks=1)
    assert data["small"] == [True, True, True]
    assert data["big"]["written"] is False and "EFBIG" in data["big"]["why"] and "EFBIG" in data["big"]["error"]
    assert data["size_at_limit"] == 1024  # a fragment of the big record reached the disk
    assert data["still_limited"] is False
    assert data["after"] == [True, True] and data["records"] == 5

    raw = (tmp_path / "logs" / "s1.jsonl").read_bytes()
    assert raw.count(b'{"recovered":true,"at":"') == 1 and raw.endswith(b"\n")
    times, report = read_log(tmp_path)
    assert times == [1, 2, 3, 6, 7]
    assert len(report.warnings) == 1 and "torn line (an interrupted write) skipped" in report.warnings[0]


@needs_nvim
@pytest.mark.skipif(not sys.platform.startswith("linux") or BASH is None, reason="a file size limit through bash ulimit (Linux)")
def test_a_log_torn_at_a_file_size_limit_is_recovered_by_the_next_neovim(tmp_path):
    data = run_lua(tmp_path, """
  local writer = logwriter.open(path, header)
  result.first = writer:append(event(1))
  result.big = writer:append(event(2, string.rep("y", 3000) .. "\\n"))
  writer:close()
""", size_limit_blocks=1)
    assert data == {"first": True, "big": False}
    assert not (tmp_path / "logs" / "s1.jsonl").read_bytes().endswith(b"\n")

    data = run_lua(tmp_path, """
  local writer = logwriter.open(path, header)
  result.next = { writer:append(event(3)), writer:append(event(4)) }
  writer:close()
""")
    assert data == {"next": [True, True]}
    times, report = read_log(tmp_path)
    assert times == [1, 3, 4]
    assert len(report.warnings) == 1 and "torn line" in report.warnings[0]


@needs_nvim
def test_short_writes_are_continued_and_a_write_without_progress_is_reported_and_recovered(tmp_path):
    # vim.loop.fs_write is stubbed: the first write of record 2 writes only its first 7 bytes; the
    # writer must write the rest itself. Then one write of record 4 writes nothing at all.
    data = run_lua(tmp_path, """
  local uv = vim.loop
  local real_write = uv.fs_write
  local mode = nil
  uv.fs_write = function(fd, data, offset, ...)
    if mode == "short" then
      mode = nil
      return real_write(fd, data:sub(1, 7), offset, ...)
    elseif mode == "none" then
      mode = nil
      return 0
    end
    return real_write(fd, data, offset, ...)
  end
  local writer = logwriter.open(path, header)
  result.appended = { writer:append(event(1)) }
  mode = "short"
  result.appended[2] = writer:append(event(2))
  result.appended[3] = writer:append(event(3))
  mode = "none"
  local written, why = writer:append(event(4))
  result.no_progress = { written = written, why = tostring(why) }
  result.appended[4] = writer:append(event(5))
  result.records = writer.records
  writer:close()
  uv.fs_write = real_write
""")
    assert data["appended"] == [True, True, True, True] and data["records"] == 4
    assert data["no_progress"]["written"] is False and "no bytes written" in data["no_progress"]["why"]
    times, report = read_log(tmp_path)
    assert times == [1, 2, 3, 5]
    assert report.warnings == []  # record 4 left no bytes: its line ends at the marker, nothing torn


@needs_nvim
def test_the_recorder_counts_a_record_the_disk_refused_and_nep_status_says_so(tmp_path):
    data = run_lua(tmp_path, """
  local config = require("nep.config")
  config.setup({ log_dir = vim.fn.fnamemodify(path, ":h"), enabled = false })
  local recorder = require("nep.recorder")
  recorder.start()
  recorder.log(event(1))
  local append = recorder.writer.append
  recorder.writer.append = function() return false, "ENOSPC: no space left on device" end
  recorder.log(event(2))
  recorder.log(event(3))
  recorder.writer.append = append
  recorder.log(event(4))
  result.unwritten = recorder.counts.unwritten
  result.status = require("nep").status()
  recorder.stop()
""")
    assert data["unwritten"] == 2
    assert "log: 2 records could not be written (last: ENOSPC: no space left on device)" in data["status"]


@needs_nvim
def test_a_file_whose_snapshot_or_edit_was_not_written_is_snapshotted_again_so_the_log_replays(tmp_path):
    """A refused snapshot left the file's later edits with nothing to apply to, and a refused edit left
    later line numbers out of step with the log: the replay no longer gave the buffer's text."""
    (tmp_path / "m.py").write_text("".join(f"line {n}\n" for n in range(1, 9)))
    data = run_lua(tmp_path, """
  local config = require("nep.config")
  config.setup({ log_dir = vim.fn.fnamemodify(path, ":h"), enabled = false })
  local recorder = require("nep.recorder")
  recorder.start()
  vim.cmd("edit m.py")
  local buf = vim.api.nvim_get_current_buf()
  assert(recorder.attach(buf))
  recorder.log({ t = 0, state = { cursor = { file = "m.py", line = 1, column = 0 } } })
  local append, refuse = recorder.writer.append, 0
  recorder.writer.append = function(self, record)
    if refuse > 0 then
      refuse = refuse - 1
      return false, "ENOSPC: no space left on device"
    end
    return append(self, record)
  end
  local function edit(row, text)
    vim.api.nvim_buf_set_lines(buf, row, row + 1, false, { text })
    recorder.flush(buf)
  end
  refuse = 2 -- the file's first snapshot and its first edit
  edit(1, "changed 2")
  edit(4, "changed 5") -- snapshot again, then this edit
  refuse = 1 -- an edit lost
  edit(6, "changed 7")
  edit(7, "changed 8")
  result.text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\\n") .. "\\n"
  result.log = recorder.log_path()
  recorder.stop()
""")
    from nep_code.edits import Workspace

    session = read_session(data["log"])
    workspace = Workspace.from_events(session.events)
    assert workspace.text("m.py") == data["text"]


# Edits of m.py (eight lines) through the recorder, each flushed as one logged edit; insertions, so an
# edit replayed twice shows. Then the request's history, the buffer's text and :NepStatus.
RECORDED_EDITS = """
  local recorder = require("nep.recorder")
  recorder.start()
  vim.cmd("edit m.py")
  local buf = vim.api.nvim_get_current_buf()
  assert(recorder.attach(buf))
  local function insert(row, text)
    vim.api.nvim_buf_set_lines(buf, row, row, false, { text })
    recorder.flush(buf)
  end
  insert(1, "inserted 1")
  insert(4, "inserted 2")
  insert(6, "inserted 3")
  vim.wait(50) -- warnings are scheduled
  result.text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\\n") .. "\\n"
  result.history = recorder.request_history(buf)
  result.status = require("nep").status()
  recorder.stop()
"""


@needs_nvim
def test_a_log_folder_that_cannot_be_made_is_one_warning_and_requests_still_describe_the_buffer(tmp_path):
    """Found by a review: vim.fn.mkdir raised E739 on every edit (a traceback each time, the warning never
    shown), and the file was marked logged before the failed write, so requests replayed an edit twice."""
    from nep_code.edits import Workspace
    from nep_core.sessionlog import parse_event

    (tmp_path / "afile").write_text("a file where the log folder should be\n")
    (tmp_path / "m.py").write_text("".join(f"line {n}\n" for n in range(1, 9)))
    data = run_lua(tmp_path, """
  local messages = {}
  vim.notify = function(message) messages[#messages + 1] = message end
  require("nep.config").setup({ log_dir = vim.fn.getcwd() .. "/afile/logs", enabled = false })
""" + RECORDED_EDITS + """
  result.messages = messages
""")
    [message] = data["messages"]
    assert message.startswith("nep: cannot write session log ") and "E739" in message and "\n" not in message
    assert "log: cannot be written: E739" in data["status"] and "(recording off)" in data["status"]
    history = [parse_event(record) for record in data["history"]]
    assert Workspace.from_events(history).text("m.py") == data["text"]
    assert not (tmp_path / "afile" / "logs").exists()


@needs_nvim
def test_requests_describe_the_buffer_when_the_log_refuses_its_snapshot_and_edits(tmp_path):
    """The window of recent events sent with requests does not depend on the log: a refused snapshot
    made the next edit take the file as it was after the refused edit as the window's base, and the
    request replayed that edit twice."""
    from nep_code.edits import Workspace
    from nep_core.sessionlog import parse_event

    (tmp_path / "m.py").write_text("".join(f"line {n}\n" for n in range(1, 9)))
    data = run_lua(tmp_path, """
  require("nep.config").setup({ log_dir = vim.fn.fnamemodify(path, ":h"), enabled = false })
  local writer_open = logwriter.open
  logwriter.open = function(...)
    local writer = writer_open(...)
    local append, refuse = writer.append, 2 -- the file's first snapshot and its first edit
    writer.append = function(self, record)
      if refuse > 0 then
        refuse = refuse - 1
        return false, "ENOSPC: no space left on device"
      end
      return append(self, record)
    end
    return writer
  end
""" + RECORDED_EDITS)
    history = [parse_event(record) for record in data["history"]]
    assert Workspace.from_events(history).text("m.py") == data["text"]
    assert "log: 2 records could not be written" in data["status"]
