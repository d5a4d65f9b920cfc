-- Records buffer changes as code-domain session events (plugins/code/nep_code/edits.py):
-- before a file's first edit, a state event snapshots its text; then each edit is an `edit` action
-- {target = {file, line}, args = {delete, insert}} with 1-based line and whole inserted lines.
-- Changes that touch the same lines within `merge_ms` of each other become one edit.
local uv = vim.loop
local config = require("nep.config")
local logwriter = require("nep.logwriter")

local M = {
  session = nil, -- id of this Neovim's session
  root = nil, -- file names are relative to this folder when inside it
  writer = nil,
  files = {}, -- path -> {shadow = lines as recorded, base = lines before the request window (once in it), logged = bool}
  buffers = {}, -- bufnr -> {path, version, pending = {s, old, new, t_first, t_last}, timer}
  window = {}, -- recent events sent with requests, oldest first
  remembered = 0, -- events ever added to the window
  versions = 0, -- the last version given to a buffer's text (every change and reload takes the next)
  base_t = 0,
  last_t = 0,
  started = 0,
  counts = { edits = 0, skipped_files = 0, feedback = 0 },
  skipped = {}, -- path -> reason
  suppress = false, -- true while NEP itself changes a buffer
  on_change = nil, -- function(bufnr) after every recorded change
  before_edit = nil, -- function(event) before an edit event is logged
  on_log = nil, -- function(record) after a state or edit record is logged
  on_reload = nil, -- function(bufnr) when a recorded buffer is read again from its file
}

local function now()
  return math.floor((uv.hrtime() - M.started) / 1e6 + 0.5) / 1000
end
M.now = now

local function valid_utf8(text)
  if not text:find("[\128-\255]") then
    return true
  end
  local i, n = 1, #text
  while i <= n do
    local c = text:byte(i)
    local extra, low, high = 0, 0x80, 0xBF
    if c < 0x80 then
      extra = 0
    elseif c >= 0xC2 and c <= 0xDF then
      extra = 1
    elseif c >= 0xE0 and c <= 0xEF then
      extra = 2
      if c == 0xE0 then
        low = 0xA0
      elseif c == 0xED then
        high = 0x9F
      end
    elseif c >= 0xF0 and c <= 0xF4 then
      extra = 3
      if c == 0xF0 then
        low = 0x90
      elseif c == 0xF4 then
        high = 0x8F
      end
    else
      return false
    end
    for k = 1, extra do
      local b = text:byte(i + k)
      if not b or b < (k == 1 and low or 0x80) or b > (k == 1 and high or 0xBF) then
        return false
      end
    end
    i = i + 1 + extra
  end
  return true
end
M.valid_utf8 = valid_utf8

local function text_of(lines)
  if #lines == 0 then
    return ""
  end
  return table.concat(lines, "\n") .. "\n"
end
M.text_of = text_of

-- "a\nb\n" -> {"a", "b"}
function M.lines_of(text)
  if text == "" then
    return {}
  end
  local lines = vim.split(text, "\n", true)
  if lines[#lines] == "" then
    table.remove(lines)
  end
  return lines
end

local function slice(lines, first, last)
  local out = {}
  for i = first, last do
    out[#out + 1] = lines[i]
  end
  return out
end

-- lines with `delete` lines from 1-based `line` replaced by `insert` (a list of lines)
local function apply(lines, line, delete, insert)
  local out = slice(lines, 1, line - 1)
  for _, l in ipairs(insert) do
    out[#out + 1] = l
  end
  for i = line + delete, #lines do
    out[#out + 1] = lines[i]
  end
  return out
end
M.apply = apply

local function random_hex(bytes)
  local ok, data = pcall(uv.random, bytes)
  if not ok or type(data) ~= "string" then
    math.randomseed(uv.hrtime() % 2147483647 + vim.fn.getpid())
    local parts = {}
    for i = 1, bytes do
      parts[i] = string.char(math.random(0, 255))
    end
    data = table.concat(parts)
  end
  return (data:gsub(".", function(c)
    return string.format("%02x", c:byte())
  end))
end

function M.start()
  M.started = uv.hrtime()
  M.session = "nvim-" .. os.date("!%Y%m%dT%H%M%S") .. "-" .. random_hex(4)
  M.root = uv.cwd()
  M.writer, M.files, M.buffers, M.window = nil, {}, {}, {}
  M.base_t, M.last_t, M.remembered = 0, 0, 0
  M.log_error = nil
  M.counts = { edits = 0, skipped_files = 0, feedback = 0, unwritten = 0 }
  M.skipped = {}
end

function M.log_path()
  return config.log_dir() .. "/" .. M.session .. ".jsonl"
end

-- Append a record to this session's log (opened, with its header, on the first record); false when
-- it could not be written.
function M.log(record)
  if not config.options.record then
    return true
  end
  if not M.writer then
    local version = vim.version()
    local header = {
      nep = 1,
      domain = "code",
      session = M.session,
      created = logwriter.utc_now(),
      meta = {
        app = string.format("Neovim %d.%d.%d", version.major, version.minor, version.patch),
        source = "nvim",
        root = M.root,
      },
    }
    local writer, err = logwriter.open(M.log_path(), header)
    if not writer then
      M.log_error = err
      config.options.record = false
      vim.schedule(function()
        vim.notify("nep: cannot write session log " .. M.log_path() .. ": " .. tostring(err), vim.log.levels.WARN)
      end)
      return false
    end
    M.writer = writer
  end
  local written, err = M.writer:append(record)
  if not written then -- a full disk: the writer ends the torn line and goes on with the next record
    M.counts.unwritten = M.counts.unwritten + 1
    M.log_error = err
    if M.counts.unwritten == 1 then
      vim.schedule(function()
        vim.notify("nep: a record could not be written to " .. M.log_path() .. ": " .. tostring(err)
          .. " (see :NepStatus)", vim.log.levels.WARN)
      end)
    end
  end
  if M.on_log and not record.feedback then
    M.on_log(record)
  end
  return written
end

local function stamp(t)
  if t < M.last_t then
    t = M.last_t
  end
  M.last_t = t
  return t
end

-- The window of recent events: when it is too long, its oldest edits are folded into each file's base.
local function remember(event)
  M.window[#M.window + 1] = event
  M.remembered = M.remembered + 1
  local limit = math.max(1, config.options.max_history_events or 64)
  while #M.window > limit do
    local oldest = table.remove(M.window, 1)
    if oldest.action then
      local file = M.files[oldest.action.target.file]
      local args = oldest.action.args
      file.base = apply(file.base, oldest.action.target.line, args.delete, M.lines_of(args.insert))
    elseif oldest.state and oldest.state.files then
      for path, text in pairs(oldest.state.files) do
        M.files[path].base = M.lines_of(text)
      end
    end
    M.base_t = oldest.t
  end
end

function M.relative(name)
  local full = vim.fn.fnamemodify(name, ":p")
  local root = M.root:gsub("/$", "") .. "/"
  if full:sub(1, #root) == root then
    return full:sub(#root + 1)
  end
  return full
end

-- The full name of `path` (as `relative` gives it).
function M.absolute(path)
  if path:sub(1, 1) == "/" then
    return path
  end
  return M.root:gsub("/$", "") .. "/" .. path
end

-- The loaded, recorded buffer of `path`, or nil.
function M.buffer_of(path)
  for buf, entry in pairs(M.buffers) do
    if entry.path == path and vim.api.nvim_buf_is_loaded(buf) then
      return buf
    end
  end
  return nil
end

function M.path_of(buf)
  local entry = M.buffers[buf]
  return entry and entry.path or nil
end

-- The version of `buf`'s text: it changes with every change of its lines and every reload, and not
-- with a write (which changes 'changedtick'); nil when `buf` is not recorded.
function M.version(buf)
  local entry = M.buffers[buf]
  return entry and entry.version or nil
end

local function next_version()
  M.versions = M.versions + 1
  return M.versions
end

-- Whether `buf` has a change not yet logged (a request sends it as its last edit).
function M.has_pending(buf)
  local entry = M.buffers[buf]
  return entry ~= nil and entry.pending ~= nil
end

-- A glob of `private_files` (`*`, `?`) as an anchored Lua pattern.
local function glob_pattern(glob)
  local escaped = glob:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0")
  return "^" .. escaped:gsub("%*", ".*"):gsub("%?", ".") .. "$"
end

-- Whether the file at `path` may hold secrets: its name, lower-cased, matches a glob of `private_files`.
function M.is_private(path)
  local name = (path:match("[^/\\]+$") or path):lower()
  for _, glob in ipairs(config.options.private_files or {}) do
    if name:find(glob_pattern(glob:lower())) then
      return true
    end
  end
  return false
end

-- Why `buf` is not recorded, or nil when it can be; the second value is true when `buf` is a file
-- (listed in :NepStatus).
function M.refusal(buf)
  if not vim.api.nvim_buf_is_loaded(buf) then
    return "not loaded"
  end
  local bo = vim.bo[buf]
  if bo.buftype ~= "" then
    return "not a file buffer"
  end
  local name = vim.api.nvim_buf_get_name(buf)
  if name == "" then
    return "no file name"
  end
  if M.is_private(name) then
    return "may hold secrets (private_files)", true
  end
  if bo.binary then
    return "binary", true
  end
  -- Neovim converts a file it reads in another encoding (latin1 when UTF-8 fails): its lines are UTF-8, the file is not
  if bo.fileencoding ~= "" and bo.fileencoding ~= "utf-8" then
    return "not UTF-8 (read as " .. bo.fileencoding .. ")", true
  end
  if vim.tbl_contains(config.options.exclude_filetypes or {}, bo.filetype) then
    return "filetype " .. bo.filetype .. " is excluded", true
  end
  local size = vim.api.nvim_buf_get_offset(buf, vim.api.nvim_buf_line_count(buf))
  if size > (config.options.max_file_bytes or 1000000) then
    return "larger than max_file_bytes", true
  end
  return nil
end

local function skip(path, reason)
  if not M.skipped[path] then
    M.counts.skipped_files = M.counts.skipped_files + 1
  end
  M.skipped[path] = reason
end

-- Whether `buf` is refused (a file is listed as skipped).
local function refused(buf)
  local reason, is_file = M.refusal(buf)
  if is_file then
    skip(M.relative(vim.api.nvim_buf_get_name(buf)), reason)
  end
  return reason ~= nil
end

local function usable_lines(lines)
  for _, line in ipairs(lines) do
    if line:find("\0", 1, true) then
      return false, "binary (NUL bytes)"
    end
    if not valid_utf8(line) then
      return false, "not UTF-8"
    end
  end
  return true
end

-- The edit the pending change amounts to, as {line, delete, insert = lines}, or nil for no change.
-- `offset` is where the pending lines are now, relative to where the pending change put them.
local function pending_edit(buf, entry, offset)
  local pending = entry.pending
  local file = M.files[entry.path]
  if not pending or not file then
    return nil
  end
  local first = pending.s + (offset or 0)
  local new = vim.api.nvim_buf_get_lines(buf, first, first + pending.new, false)
  local old = slice(file.shadow, pending.s + 1, pending.s + pending.old)
  local same_start = 0
  while same_start < #old and same_start < #new and old[same_start + 1] == new[same_start + 1] do
    same_start = same_start + 1
  end
  local same_end = 0
  while same_end < #old - same_start and same_end < #new - same_start
    and old[#old - same_end] == new[#new - same_end] do
    same_end = same_end + 1
  end
  local delete = #old - same_start - same_end
  local insert = slice(new, same_start + 1, #new - same_end)
  if delete == 0 and #insert == 0 then
    return nil
  end
  return { line = pending.s + same_start + 1, delete = delete, insert = insert, t = pending.t_last }
end

local function edit_action(path, edit)
  return {
    kind = "edit",
    target = { file = path, line = edit.line },
    args = { delete = edit.delete, insert = text_of(edit.insert) },
  }
end
M.edit_action = edit_action

-- Log the pending change of `buf` as one edit. `offset` as for pending_edit.
function M.flush(buf, offset)
  local entry = M.buffers[buf]
  if not entry or not entry.pending then
    return nil
  end
  local edit = pending_edit(buf, entry, offset)
  entry.pending = nil
  if entry.timer then
    entry.timer:stop()
  end
  if not edit then
    return nil
  end
  local file = M.files[entry.path]
  local ok, reason = usable_lines(edit.insert)
  if not ok then
    skip(entry.path, reason)
    entry.detach = true
    return nil
  end
  local t = stamp(edit.t)
  if not file.base then -- the file's first edit in the window of recent events: its text before them
    file.base = vim.deepcopy(file.shadow)
    if #M.window == 0 then
      M.base_t = t
    end
  end
  -- the log's snapshot of the file: before its first edit, and again after a record of it was not
  -- written (logged only once written; the window above does not depend on the log)
  if not file.logged then
    file.logged = M.log({ t = t, state = { files = { [entry.path] = text_of(file.shadow) } } })
  end
  file.shadow = apply(file.shadow, edit.line, edit.delete, edit.insert)
  local event = { t = t, action = edit_action(entry.path, edit) }
  if M.before_edit then
    M.before_edit(event)
  end
  if not M.log(event) then
    file.logged = false -- the log lacks this edit: the next one starts from a new snapshot of the file
  end
  remember(event)
  M.counts.edits = M.counts.edits + 1
  return event
end

function M.flush_all()
  for buf in pairs(M.buffers) do
    M.flush(buf)
  end
end

local record_change

-- Neovim's on_lines callback; returning true detaches. An error stops recording this buffer, once, with a message.
local function on_lines(buf, first, last, new_last)
  local ok, result = pcall(record_change, buf, first, last, new_last)
  if ok then
    return result
  end
  skip(M.buffers[buf] and M.buffers[buf].path or tostring(buf), "recording failed: " .. tostring(result))
  M.buffers[buf] = nil
  vim.schedule(function()
    vim.notify("nep: stopped recording this buffer: " .. tostring(result), vim.log.levels.WARN)
  end)
  return true
end

record_change = function(buf, first, last, new_last)
  local entry = M.buffers[buf]
  if not entry or entry.detach then
    return true
  end
  local t = now()
  local pending = entry.pending
  local merge = pending and (t - pending.t_last) * 1000 <= config.options.merge_ms
    and first <= pending.s + pending.new and last >= pending.s
  if merge then
    local start = math.min(pending.s, first)
    local stop = math.max(pending.s + pending.new, last)
    local old_stop = stop - pending.new + pending.old
    local new_stop = stop + (new_last - last)
    pending.s, pending.old, pending.new, pending.t_last = start, old_stop - start, new_stop - start, t
  else
    if pending then
      -- the pending lines moved if this change is above them
      local offset = (last <= pending.s) and (new_last - last) or 0
      M.flush(buf, offset)
    end
    if entry.detach then
      return true
    end
    entry.pending = { s = first, old = last - first, new = new_last - first, t_first = t, t_last = t }
  end
  -- Neovim never leaves a buffer without lines: deleting them all (ggdG) leaves one empty line, yet is
  -- reported as on_lines(0, n, 0), and filling that line again may be reported as lines added before
  -- it. Whenever the lines the change accounts for are not the buffer's, the pending change becomes
  -- the whole buffer (pending_edit trims it to the lines that changed), so the log stays in step.
  local file, now_pending = M.files[entry.path], entry.pending
  local count = vim.api.nvim_buf_line_count(buf)
  if file and #file.shadow - now_pending.old + now_pending.new ~= count then
    now_pending.s, now_pending.old, now_pending.new = 0, #file.shadow, count
  end
  entry.timer = entry.timer or uv.new_timer()
  entry.timer:stop()
  entry.timer:start(config.options.merge_ms, 0, vim.schedule_wrap(function()
    if M.buffers[buf] == entry then
      M.flush(buf)
    end
  end))
  if M.on_change and not M.suppress then
    M.on_change(buf)
  end
end

local function snapshot(buf, entry)
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local ok, reason = usable_lines(lines)
  if not ok then
    skip(entry.path, reason)
    return false
  end
  local file = M.files[entry.path]
  if not file then
    M.files[entry.path] = { shadow = lines, logged = false }
    return true
  end
  file.shadow = lines
  if file.logged or file.base then -- known to the log or to the window: the new text is an event
    local event = { t = stamp(now()), state = { files = { [entry.path] = text_of(lines) } } }
    if file.logged then
      file.logged = M.log(event) -- not written: the next edit snapshots the file again
    end
    if file.base then
      remember(event)
    end
  end
  return true
end

-- Start recording `buf`; true when it is (or already was) recorded.
function M.attach(buf)
  if M.buffers[buf] then
    return true
  end
  if refused(buf) then
    return false
  end
  local entry = { path = M.relative(vim.api.nvim_buf_get_name(buf)), version = next_version() }
  if M.skipped[entry.path] or not snapshot(buf, entry) then
    return false
  end
  M.buffers[buf] = entry
  vim.api.nvim_buf_attach(buf, false, {
    on_lines = function(_, _, _, first, last, new_last)
      if M.buffers[buf] ~= entry then -- detached, or attached again (renamed): that attachment records
        return true
      end
      entry.version = next_version()
      return on_lines(buf, first, last, new_last)
    end,
    on_reload = function()
      if M.buffers[buf] ~= entry then
        return
      end
      entry.version = next_version()
      if M.on_reload then
        M.on_reload(buf)
      end
      vim.schedule(function()
        if M.buffers[buf] == entry then
          entry.pending = nil
          if refused(buf) or not snapshot(buf, entry) then -- read again with ++enc, say
            M.detach(buf)
          end
        end
      end)
    end,
    on_detach = function()
      if M.buffers[buf] == entry then
        M.buffers[buf] = nil
      end
    end,
  })
  return true
end

-- `buf` was renamed (:file, :saveas, :write to a new name of a buffer without one): the edit being
-- typed is logged under the old name, and from now on it is recorded under the new one (a new file
-- of the session, snapshotted before its first edit), or not at all when that name is refused.
function M.rename(buf)
  local entry = M.buffers[buf]
  if entry then
    local name = vim.api.nvim_buf_get_name(buf)
    if name ~= "" and M.relative(name) == entry.path then
      return true
    end
    M.detach(buf)
  end
  return M.attach(buf)
end

function M.detach(buf)
  local entry = M.buffers[buf]
  if entry then
    M.flush(buf)
    entry.detach = true
    if entry.timer then
      entry.timer:stop()
      entry.timer:close()
      entry.timer = nil
    end
    M.buffers[buf] = nil
  end
end

function M.stop()
  for _, buf in ipairs(vim.tbl_keys(M.buffers)) do
    M.detach(buf)
  end
  if M.writer then
    M.writer:close()
    M.writer = nil
  end
end

-- The files `event` (of the window) is about, as keys.
local function files_of(event)
  if event.action then
    return { [event.action.target.file] = true }
  end
  return event.state and event.state.files or {}
end

-- The events a suggest request sends, and their JSON: a snapshot of the files in play as they were
-- before the window, the window's events, the change still being typed, and the cursor; at most
-- `max_bytes` of JSON. Over it, other files are left out with their events: files only open before
-- edited ones, the largest first. When this file's own events are still too many, the file as it
-- is now and the cursor; when even that is over, nil, nil and why.
function M.request_history(buf, max_bytes)
  local entry = M.buffers[buf]
  if not entry then
    return nil
  end
  local paths = { [entry.path] = "edited" }
  for _, event in ipairs(M.window) do
    for path in pairs(files_of(event)) do
      paths[path] = "edited"
    end
  end
  -- other open files too: where a rename or a changed signature is carried next
  local others = 0
  for other, other_entry in pairs(M.buffers) do
    if others >= config.options.context_files then
      break
    end
    if not paths[other_entry.path] and vim.api.nvim_buf_is_loaded(other) then
      paths[other_entry.path] = "open"
      others = others + 1
    end
  end
  local files = {}
  for path in pairs(paths) do
    local file = M.files[path]
    if file then
      files[path] = text_of(file.base or file.shadow)
    end
  end
  local history = { { t = M.base_t, state = { files = files } } }
  for _, event in ipairs(M.window) do
    history[#history + 1] = event
  end
  local t = now()
  local edit = pending_edit(buf, entry, 0)
  if edit then
    history[#history + 1] = { t = math.max(edit.t, M.last_t), action = edit_action(entry.path, edit) }
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local last = { t = math.max(t, M.last_t), state = { cursor = { file = entry.path, line = cursor[1], column = cursor[2] } } }
  history[#history + 1] = last
  local json = vim.json.encode(history)
  if not max_bytes or #json <= max_bytes then
    return history, json
  end
  local bytes = #json
  local leaving = vim.tbl_filter(function(path)
    return path ~= entry.path
  end, vim.tbl_keys(files))
  table.sort(leaving, function(a, b)
    if paths[a] ~= paths[b] then
      return paths[a] == "open"
    end
    return #files[a] > #files[b]
  end)
  for _, path in ipairs(leaving) do
    bytes = bytes - #vim.json.encode({ [path] = files[path] }) + 1 -- its "name":"text" and a comma
    files[path] = nil
    history = vim.tbl_filter(function(event)
      if event ~= history[1] and files_of(event)[path] then
        bytes = bytes - #vim.json.encode(event) - 1
        return false
      end
      return true
    end, history)
    if bytes <= max_bytes then
      return history, vim.json.encode(history)
    end
  end
  last.state.files = { [entry.path] = text_of(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) }
  json = vim.json.encode({ last })
  if #json <= max_bytes then
    return { last }, json
  end
  return nil, nil, entry.path .. " is over max_request_bytes as JSON"
end

return M
