-- Append-only session-log writer: one JSON object per line, each line written then fsynced.
-- Writes are synchronous (small appends to the page cache); fsync runs on libuv's thread pool, one at
-- a time, so typing never waits for the disk. close() fsyncs synchronously.
-- Crash safety as in nep_core/appkit/sessionlog.py (the Blender and Krita writer): a line is written
-- until every byte is on the file (short writes are continued). A write that fails (a full disk, a file
-- size limit) or makes no progress marks the log torn and closes it; the next append reopens the file
-- and first ends the torn line and writes a `{"recovered":true,"at":...}` marker, so the reader
-- (nep_core.sessionlog) skips the torn fragment with a warning and reads the records after it.
local uv = vim.loop
local M = {}
local Writer = {}
Writer.__index = Writer

local function utc_now()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end
M.utc_now = utc_now

-- The marker line, byte for byte what the Python writers write.
local function marker_line()
  return '{"recovered":true,"at":"' .. utc_now() .. '"}\n'
end

local function last_byte(path, size)
  if size == 0 then
    return nil
  end
  local reader = uv.fs_open(path, "r", 420)
  if not reader then
    return nil
  end
  local byte = uv.fs_read(reader, 1, size - 1)
  uv.fs_close(reader)
  return byte
end

-- Whether the file holds at least one whole line.
local function holds_a_line(path)
  local reader = uv.fs_open(path, "r", 420)
  if not reader then
    return false
  end
  local offset = 0
  while true do
    local chunk = uv.fs_read(reader, 65536, offset)
    if not chunk or chunk == "" then
      uv.fs_close(reader)
      return false
    end
    if chunk:find("\n", 1, true) then
      uv.fs_close(reader)
      return true
    end
    offset = offset + #chunk
  end
end

-- Open (or create) `path` for appending; `header` is written first when the file is new.
-- A torn last line (an interrupted write) is ended and followed by a recovery marker.
-- Returns nil and the error only when the file cannot be opened; a header that could not be written
-- leaves the writer torn (`writer.error` says why), and the next append writes it anew.
function M.open(path, header)
  local writer = setmetatable({
    path = path, header = header, fd = nil, syncing = false, dirty = false, records = 0,
    torn = false, -- a write failed: the file may end in a torn line, or in the newline after one
    closing = {}, -- descriptors of a torn log, closed once the fsync running on them is done
  }, Writer)
  local ok, err = writer:_open()
  if not ok and not writer.torn then
    return nil, err
  end
  return writer
end

function Writer:_open()
  -- a folder that cannot be made (a file in its way, no permission) is an error to report, not to raise
  local made, why = pcall(vim.fn.mkdir, vim.fn.fnamemodify(self.path, ":h"), "p")
  if not made then
    self.error = tostring(why):gsub("^Vim:", "")
    return false, self.error
  end
  local fd, err = uv.fs_open(self.path, "a", 420)
  if not fd then
    self.error = err
    return false, err
  end
  self.fd = fd
  if not holds_a_line(self.path) then -- empty, or a header torn before its end: write it anew
    uv.fs_ftruncate(fd, 0)
    if not self:_write_raw(vim.json.encode(self.header) .. "\n") then
      return false, self.error
    end
  else
    local stat = uv.fs_fstat(fd)
    local ends_a_line = last_byte(self.path, stat and stat.size or 0) == "\n"
    if self.torn or not ends_a_line then
      if not self:_write_raw((ends_a_line and "" or "\n") .. marker_line()) then
        return false, self.error
      end
    end
  end
  self.torn = false
  return true
end

-- Write all of `data` (continuing after short writes), then fsync. On a failed write, or one that
-- makes no progress, the log is marked torn and closed: false.
function Writer:_write_raw(data)
  while #data > 0 do
    local written, err = uv.fs_write(self.fd, data, -1)
    if not written or written <= 0 then
      self:_tear(err or "short write: no bytes written")
      return false
    end
    data = data:sub(written + 1)
  end
  self:_sync()
  return true
end

function Writer:_tear(err)
  self.error = err
  self.torn = true
  local fd = self.fd
  self.fd = nil
  if self.syncing then
    table.insert(self.closing, fd) -- the running fsync's callback closes it
  else
    uv.fs_close(fd)
  end
end

function Writer:_sync()
  if self.syncing then
    self.dirty = true
    return
  end
  self.syncing = true
  local fd = self.fd
  uv.fs_fsync(fd, function(err)
    self.syncing = false
    if err and self.fd == fd then -- the disk refused what the page cache took (a full disk, EIO): recover as after a failed write
      self:_tear(err)
    end
    for _, fd in ipairs(self.closing) do
      uv.fs_close(fd)
    end
    self.closing = {}
    if self.dirty and self.fd then
      self.dirty = false
      self:_sync()
    end
  end)
end

-- Append one record (a Lua table) as one line: true, or false and the error (also in `self.error`)
-- when the line was not wholly written.
function Writer:append(record)
  if self.closed then
    return false, "the session log is closed"
  end
  local ok, line = pcall(vim.json.encode, record)
  if not ok then
    self.error = line
    return false, line
  end
  if not self.fd then -- torn: reopen, ending the torn line with a recovery marker
    local opened = self:_open()
    if not opened then
      return false, self.error
    end
  end
  if self:_write_raw(line .. "\n") then
    self.records = self.records + 1
    return true
  end
  return false, self.error
end

function Writer:close()
  self.closed = true
  if self.fd or #self.closing > 0 then
    vim.wait(1000, function()
      return not self.syncing
    end, 5)
  end
  if self.fd then
    uv.fs_fsync(self.fd)
    uv.fs_close(self.fd)
    self.fd = nil
  end
end

return M
