-- Append-only session-log writer: one JSON object per line, each line written then fsynced.
-- Writes are synchronous (small appends to the page cache); fsync runs on libuv's thread pool, one at
-- a time, so typing never waits for the disk. close() fsyncs synchronously.
local uv = vim.loop
local M = {}
local Writer = {}
Writer.__index = Writer

local function utc_now()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end
M.utc_now = utc_now

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

-- Open (or create) `path` for appending; `header` is written first when the file is new.
-- A torn last line (an interrupted write) is ended and followed by a recovery marker.
function M.open(path, header)
  vim.fn.mkdir(vim.fn.fnamemodify(path, ":h"), "p")
  local stat = uv.fs_stat(path)
  local size = stat and stat.size or 0
  local fd, err = uv.fs_open(path, "a", 420)
  if not fd then
    return nil, err
  end
  local writer = setmetatable({ path = path, fd = fd, syncing = false, dirty = false, records = 0 }, Writer)
  if size == 0 then
    writer:_write(vim.json.encode(header) .. "\n")
  elseif last_byte(path, size) ~= "\n" then
    writer:_write("\n" .. vim.json.encode({ recovered = true, at = utc_now() }) .. "\n")
  end
  return writer
end

function Writer:_write(line)
  if not self.fd then
    return false
  end
  local written, err = uv.fs_write(self.fd, line, -1)
  if not written then
    self.error = err
    return false
  end
  self:_sync()
  return true
end

function Writer:_sync()
  if self.syncing then
    self.dirty = true
    return
  end
  self.syncing = true
  uv.fs_fsync(self.fd, function()
    self.syncing = false
    if self.dirty and self.fd then
      self.dirty = false
      self:_sync()
    end
  end)
end

-- Append one record (a Lua table) as one line.
function Writer:append(record)
  local ok, line = pcall(vim.json.encode, record)
  if not ok then
    self.error = line
    return false
  end
  if self:_write(line .. "\n") then
    self.records = self.records + 1
    return true
  end
  return false
end

function Writer:close()
  if self.fd then
    vim.wait(1000, function()
      return not self.syncing
    end, 5)
    uv.fs_fsync(self.fd)
    uv.fs_close(self.fd)
    self.fd = nil
  end
end

return M
