-- NEP next-edit suggestions in Neovim: records edits into session logs, asks `nep serve --domain
-- code` for the next edit without blocking typing, shows it, and sends what became of it as feedback.
local uv = vim.loop
local config = require("nep.config")
local recorder = require("nep.recorder")
local display = require("nep.display")
local http = require("nep.http")

local M = {
  enabled = false,
  shown = nil, -- {buf, version, edit, action, request_id, shown_at, jumped, elsewhere, sent}
  held = nil, -- an `ignored` outcome waiting for the user's actual next edit
  sequence = 0, -- the newest request; answers to older ones are stale
  server_state = "not asked yet",
  warned = false,
  counts = { requests = 0, answers = 0, stale = 0, errors = 0, unsure = 0, shown = 0, accepted = 0, dismissed = 0, ignored = 0, refused = 0 },
  last_latency_ms = nil,
  round_trips = {}, -- milliseconds from asking to the answer, the last 200
  last_request_id = nil,
  timer = nil,
  after_accept = nil, -- what the request right after an accept sends: the one the server speculated on
}

local group = vim.api.nvim_create_augroup("nep", { clear = true })

local function notify_once(message)
  if not M.warned then
    M.warned = true
    vim.notify(message, vim.log.levels.WARN)
  end
end

local function headers()
  local token = config.token()
  return token and { Authorization = "Bearer " .. token } or {}
end

-- `text` on one line (control characters and Unicode's line breaks U+0085, U+2028, U+2029 as spaces: what
-- the server takes as a line break), at most `most` bytes, cut between characters (the server refuses
-- a broken UTF-8 sequence), then "...".
local function one_line(text, most)
  text = tostring(text):gsub("%c", " "):gsub("\194\133", " "):gsub("\226\128[\168\169]", " ")
  if #text > most then
    local cut = most
    while cut > 0 and (text:byte(cut + 1) or 0) >= 128 and text:byte(cut + 1) < 192 do
      cut = cut - 1 -- inside a UTF-8 sequence: back to its start
    end
    return text:sub(1, cut) .. "..."
  end
  return text
end
M.one_line = one_line

-- POST `payload` (a table, or its JSON) to `path`; callback(err, decoded answer).
local function post(path, payload, callback)
  local ok, body = true, payload
  if type(payload) ~= "string" then
    ok, body = pcall(vim.json.encode, payload)
  end
  if not ok then
    return callback("cannot encode the request: " .. tostring(body))
  end
  http.post(config.options.server, path, body, { timeout_ms = config.options.timeout_ms, headers = headers() },
    function(err, response)
      if err == http.ANSWER_TOO_LARGE then
        M.counts.errors = M.counts.errors + 1
        M.server_state = err
        notify_once(string.format("nep: %s%s sent an answer over 4 MiB, far larger than a suggestion; "
          .. "is it nep serve --domain code?", config.options.server, path))
        return callback(err)
      elseif type(err) == "string" and err:sub(1, #http.MALFORMED) == http.MALFORMED then -- it answered, not in HTTP
        M.counts.errors = M.counts.errors + 1
        M.server_state = err
        notify_once(string.format("nep: %s%s answered with a %s; is it nep serve --domain code?", config.options.server,
          path, err))
        return callback(err)
      elseif http.is_slow(err) then -- it took the request: a server that runs, busy or slow
        M.counts.errors = M.counts.errors + 1
        M.server_state = "slow: " .. err .. " (timeout_ms)"
        notify_once(string.format("nep: %s%s did not answer within %d ms (timeout_ms): the server runs but is busy "
          .. "or slow; raise timeout_ms in setup() if this goes on", config.options.server, path, config.options.timeout_ms))
        return callback(err)
      elseif err then
        M.counts.errors = M.counts.errors + 1
        M.server_state = "unreachable (" .. tostring(err) .. ")"
        notify_once(string.format("nep: no answer from %s (%s); start a server: nep serve --domain code --model runs/code "
          .. "(a model from nep train --domain code)", config.options.server, tostring(err)))
        return callback(err)
      end
      if response.status == 409 then -- superseded by a newer request of this session: its answer is the one to show
        M.counts.stale = M.counts.stale + 1
        M.server_state = "ok"
        return callback("superseded")
      end
      local decoded_ok, answer = pcall(vim.json.decode, response.body)
      if response.status ~= 200 then
        local detail = decoded_ok and type(answer) == "table" and type(answer.detail) == "string" and answer.detail
          or one_line(response.body, 200)
        M.counts.errors = M.counts.errors + 1
        M.server_state = string.format("HTTP %s: %s", tostring(response.status), detail)
        notify_once(string.format("nep: %s%s answered %s: %s", config.options.server, path,
          tostring(response.status), detail))
        return callback(M.server_state)
      end
      if not decoded_ok or type(answer) ~= "table" or vim.tbl_islist(answer) then
        M.counts.errors = M.counts.errors + 1
        M.server_state = "the answer is not a JSON object: " .. one_line(response.body, 80)
        notify_once(string.format("nep: %s%s answered 200 with something that is not a JSON object (%s); "
          .. "is it nep serve --domain code?", config.options.server, path, one_line(response.body, 80)))
        return callback(M.server_state)
      end
      M.warned = false
      M.server_state = "ok"
      callback(nil, answer)
    end)
end

-- Feedback for the shown suggestion `shown`: logged locally and sent to the server.
local function feedback(shown, outcome, actual, reason)
  -- an `ignored` outcome is logged just before the edit that ignored it, at that edit's time
  local t = actual and actual.t or recorder.now()
  local record = { suggestion = shown.action, shown_at = shown.shown_at, accepted = outcome == "accepted", outcome = outcome }
  if shown.request_id then
    record.request_id = shown.request_id
  end
  if reason then
    reason = one_line(reason, 480) -- nep serve refuses a reason over 500 characters or with a line break
    record.reason = reason
  end
  recorder.counts.feedback = recorder.counts.feedback + 1
  M.counts[outcome] = (M.counts[outcome] or 0) + 1
  recorder.log({ t = actual and t or math.max(t, recorder.last_t), feedback = record })
  local payload = {
    session = recorder.session,
    accepted = outcome == "accepted",
    suggestion = shown.action,
    shown_at = shown.shown_at,
    t = math.max(t, shown.shown_at),
    outcome = outcome,
  }
  if shown.request_id then
    payload.request_id = shown.request_id
  end
  if reason then
    payload.reason = reason
  end
  if actual and actual.action then
    payload.actual = actual.action
    M.skip_logged = config.options.feedback_history -- it is sent here; not again with the next history
  end
  if config.options.feedback_history then
    local history = {}
    for i = (M.sent_events or 0) + 1, #M.session_events do
      history[#history + 1] = M.session_events[i]
    end
    M.sent_events = #M.session_events
    if #history > 0 then
      payload.history = history
    end
    local encoded, body = pcall(vim.json.encode, payload)
    if encoded and #body > config.options.max_request_bytes then
      payload.history = nil -- over the server's body limit: the feedback alone (the server's log misses these events)
    end
  end
  M.feedback_in_flight = (M.feedback_in_flight or 0) + 1
  post("/v1/feedback", payload, function(err)
    M.feedback_in_flight = M.feedback_in_flight - 1
    M.last_feedback = { outcome = outcome, ok = err == nil, error = err }
  end)
end

local function clear_shown()
  if M.shown then
    display.clear(M.shown.buf)
  end
  M.shown = nil
end

-- The shown suggestion went unused: `outcome` now ("dismissed"), or "ignored" once the next edit is known.
local function retire(outcome)
  local shown = M.shown
  if not shown then
    return
  end
  clear_shown()
  if outcome == "ignored" then
    if M.held then
      feedback(M.held, "ignored")
    end
    M.held = shown
  else
    feedback(shown, outcome)
  end
end

-- Whether `value` is a finite number (not a string, null or NaN).
local function finite(value)
  return type(value) == "number" and value == value and value > -math.huge and value < math.huge
end

-- Whether `value` is a whole number of at least `least` (JSON may carry 1.5, NaN or 1e308).
local function whole(value, least)
  return type(value) == "number" and value == value and value >= least and value < 2 ^ 31 and math.floor(value) == value
end

M.MAX_INSERT_BYTES = 64 * 1024 -- far above what the code domain suggests (240 characters); a larger one is not shown

local function edit_of(action)
  if type(action) ~= "table" or type(action.target) ~= "table" then
    return nil
  end
  local line = action.target.line
  if not whole(line, 1) then
    return nil
  end
  if action.kind == "jump" then
    return { line = line, delete = 0, insert = {}, jump_only = true, file = action.target.file }
  end
  if action.kind ~= "edit" or type(action.args) ~= "table" then
    return nil
  end
  local delete, insert = action.args.delete or 0, action.args.insert or ""
  if not whole(delete, 0) or type(insert) ~= "string" or #insert > M.MAX_INSERT_BYTES or insert:find("%z") then
    return nil
  end
  return { line = line, delete = delete, insert = recorder.lines_of(insert), file = action.target.file }
end

-- `edit` (edit_of's) as it goes into `buf`. Neovim keeps the lines of a CRLF file without their '\r'
-- ('fileformat' dos): a model that learned CRLF files may still end a line in one, which would show as
-- ^M and be saved as \r\r\n, so there it goes. In any other buffer a line's '\r' is its text (a
-- 'fileformat' unix buffer of a file with some CRLF lines keeps it) and stays.
local function fitted(edit, buf)
  if edit.jump_only or vim.bo[buf].fileformat ~= "dos" then
    return edit
  end
  local copy = vim.deepcopy(edit)
  copy.insert = vim.tbl_map(function(l)
    return (l:gsub("\r$", ""))
  end, edit.insert)
  return copy
end

-- Whether `file` (a server's suggestion's) is one this session recorded, named without control
-- characters (a newline in a name would end the :edit command and start another) and a regular file.
local function recorded_file(file)
  if type(file) ~= "string" or file:find("%c") or not recorder.files[file] then
    return false
  end
  local stat = vim.loop.fs_stat(recorder.absolute(file))
  return stat ~= nil and stat.type == "file"
end

local function applies(buf, edit)
  local count = vim.api.nvim_buf_line_count(buf)
  return edit.line - 1 + edit.delete <= count and edit.line <= count + 1
end

-- Whether applying `edit` would leave the buffer as it is (such a suggestion is not shown).
local function changes_nothing(buf, edit)
  if edit.jump_only or edit.delete ~= #edit.insert then
    return false
  end
  local current = vim.api.nvim_buf_get_lines(buf, edit.line - 1, edit.line - 1 + edit.delete, false)
  return vim.deep_equal(current, edit.insert)
end

local function render()
  local shown = M.shown
  if not shown or not vim.api.nvim_buf_is_valid(shown.buf) then
    return
  end
  if recorder.version(shown.buf) ~= shown.version then -- its buffer changed under it (a reload): gone
    retire("ignored")
    return
  end
  local cursor_line = vim.api.nvim_win_get_cursor(0)[1]
  if shown.elsewhere then
    display.show_elsewhere(shown.buf, shown.edit, cursor_line)
    return
  end
  display.show(shown.buf, shown.edit, cursor_line, shown.edit.jump_only or display.is_far(shown.edit, cursor_line))
end

-- The lines `edit` is drawn on in `buf`: those it replaces, and the line its added lines are drawn
-- below with the next one (so that they are on screen too). Lines added above line 1 are drawn below
-- it (display.show): lines 1 and 2.
local function drawn_lines(buf, edit)
  local first, last = edit.line, edit.line + math.max(edit.delete, 1) - 1
  if #edit.insert > 0 then
    local above = math.max(edit.line - 1 + edit.delete, 1)
    first, last = math.min(first, above), math.max(last, above + 1)
  end
  local count = vim.api.nvim_buf_line_count(buf)
  return math.min(first, count), math.min(last, count)
end

-- Whether the virtual lines of `edit` hang below the last line of `buf`, and if so whether they are
-- on screen in the current window: moving the cursor to that line scrolls it into view, not them.
local function below_the_end_in_view(buf, edit)
  local count = vim.api.nvim_buf_line_count(buf)
  local rows = display.virtual_lines(edit)
  if rows == 0 or math.max(edit.line - 1 + edit.delete, 1) < count then
    return true
  end
  local win = vim.api.nvim_get_current_win()
  local text = vim.api.nvim_buf_get_lines(buf, count - 1, count, false)[1] or ""
  local position = vim.fn.screenpos(win, count, math.max(#text, 1)) -- the last screen row of that line
  local window_bottom = vim.fn.win_screenpos(win)[1] + vim.api.nvim_win_get_height(win) - 1
  return position.row > 0 and position.row + rows <= window_bottom
end

-- Whether `edit` is all in view in the current window (`buf`), none of it in a closed fold; an edit
-- taller than the window is when it starts at the window's top.
local function in_view(buf, edit)
  local first, last = drawn_lines(buf, edit)
  local top, bottom = vim.fn.line("w0"), vim.fn.line("w$")
  if first < top or (last > bottom and first ~= top) or (first ~= top and not below_the_end_in_view(buf, edit)) then
    return false
  end
  for line = first, math.min(last, bottom) do
    if vim.fn.foldclosed(line) ~= -1 then
      return false
    end
  end
  return true
end

-- Move the cursor to `edit` in the current window (`buf`), open the folds over it (as zv does) and
-- scroll it into view.
local function bring_into_view(buf, edit)
  local first, last = drawn_lines(buf, edit)
  vim.api.nvim_win_set_cursor(0, { math.min(edit.line, vim.api.nvim_buf_line_count(buf)), 0 })
  vim.cmd(string.format("silent! %d,%dfoldopen!", first, last))
  if not in_view(buf, edit) and not below_the_end_in_view(buf, edit) then
    -- lines added below the last line: the last line at the bottom of the window, with them under it
    local cursor = vim.api.nvim_win_get_cursor(0)
    vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(buf), 0 })
    vim.cmd("normal! zb")
    vim.api.nvim_win_set_cursor(0, cursor)
  end
  if not in_view(buf, edit) then
    vim.fn.winrestview({ topline = first })
  end
end

-- The probability a suggestion's confidence is compared with: `confidence`, else `probability`;
-- nil when neither is a number (null, a string).
local function confidence_of(suggestion)
  if finite(suggestion.confidence) then
    return suggestion.confidence
  end
  return finite(suggestion.probability) and suggestion.probability or nil
end

-- `sent`: what the request sent, {body, remembered}, kept with the suggestion shown for it.
-- An answer is for the buffer as it was asked about: `version` (recorder.version) changes with its
-- text, not with a write, so a save while the answer is on its way does not drop it.
local function on_answer(buf, version, sequence, answer, sent)
  if sequence ~= M.sequence or not vim.api.nvim_buf_is_valid(buf) or vim.api.nvim_get_current_buf() ~= buf
    or recorder.version(buf) ~= version or not M.enabled then
    M.counts.stale = M.counts.stale + 1
    return
  end
  M.counts.answers = M.counts.answers + 1
  -- each field is checked for its type: a malformed one is left out, and never raises
  M.last_latency_ms = finite(answer.latency_ms) and answer.latency_ms or nil
  M.last_request_id = type(answer.request_id) == "string" and answer.request_id or nil
  if answer.best_is_no_edit == true or type(answer.suggestions) ~= "table" then
    return
  end
  local path = recorder.path_of(buf)
  local least = tonumber(config.options.min_confidence) or 0
  for _, suggestion in ipairs(answer.suggestions) do
    local edit -- nil for an entry that is not a suggestion (a number, a string, no action): it is skipped
    local usable = type(suggestion) == "table" and type(suggestion.action) == "table"
    local probability = usable and confidence_of(suggestion) or nil
    if probability and probability < least then
      M.counts.unsure = M.counts.unsure + 1 -- suggestions come best first: none after it is surer
      return
    elseif usable and not probability and least > 0 then
      M.counts.unsure = M.counts.unsure + 1 -- no number to compare with min_confidence: not shown
    elseif usable then
      edit = edit_of(suggestion.action)
    end
    local elsewhere = edit and type(edit.file) == "string" and edit.file ~= path
    local there = elsewhere and recorder.buffer_of(edit.file)
    if elsewhere and not there and not recorded_file(edit.file) then
      edit = nil -- only a file of this session: a server must not open (and then send) any other file
    elseif elsewhere and there and (not applies(there, edit) or changes_nothing(there, fitted(edit, there))) then
      edit = nil
    elseif edit and not elsewhere then
      edit = fitted(edit, buf) -- one elsewhere is fitted to its buffer when it is opened (open_elsewhere)
    end
    if edit and (elsewhere or edit.file == path and applies(buf, edit) and not changes_nothing(buf, edit)) then
      retire("ignored")
      M.shown = {
        buf = buf,
        version = version,
        edit = edit,
        action = suggestion.action,
        request_id = M.last_request_id,
        shown_at = math.max(recorder.now(), recorder.last_t),
        elsewhere = elsewhere,
        sent = sent,
      }
      M.counts.shown = M.counts.shown + 1
      render()
      return
    end
  end
end

-- The body of a suggest request for `buf` (the current buffer) now, and what to keep with the
-- suggestion shown for it: {body, remembered = the window's events once its pending edit is logged}.
-- Right after an accept, with nothing else done since, it is the request the server speculated on
-- (nep_core/server/speculation.py): what the accepted suggestion's request sent, then the accepted
-- edit as it was applied, as the last event. The edit leaves the cursor at its end, where accept
-- put it, so no cursor state follows it. Otherwise: the window of recent events and the cursor
-- (recorder.request_history). nil and why when it cannot be asked about.
function M.request_body(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local after = M.after_accept
  if after and after.buf == buf and recorder.version(buf) == after.version and recorder.remembered == after.remembered
    and vim.deep_equal(vim.api.nvim_win_get_cursor(0), after.cursor) then
    local body = after.prefix .. "," .. vim.json.encode(after.event) .. "]}"
    if #body <= config.options.max_request_bytes then
      return body, { body = body, remembered = recorder.remembered }
    end
  end
  local head = string.format('{"domain":"code","session":%s,"top_k":%s,"history":', vim.json.encode(recorder.session),
    vim.json.encode(config.options.top_k))
  local _, json, too_large = recorder.request_history(buf, config.options.max_request_bytes - #head - 1)
  if not json then
    return nil, too_large
  end
  local body = head .. json .. "}"
  return body, { body = body, remembered = recorder.remembered + (recorder.has_pending(buf) and 1 or 0) }
end

-- Ask the server now for a suggestion for `buf` (the current buffer).
function M.request(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  if not M.enabled or not config.options.suggest or not recorder.path_of(buf) then
    return false
  end
  local body, sent = M.request_body(buf)
  M.after_accept = nil -- only the first request after it
  M.not_asked = not body and sent or nil
  if not body then
    return false
  end
  M.sequence = M.sequence + 1
  local sequence, version = M.sequence, recorder.version(buf)
  M.counts.requests = M.counts.requests + 1
  local started = uv.hrtime()
  post("/v1/suggest", body, function(err, answer)
    if not err then
      table.insert(M.round_trips, (uv.hrtime() - started) / 1e6)
      if #M.round_trips > 200 then
        table.remove(M.round_trips, 1)
      end
      on_answer(buf, version, sequence, answer, sent)
    end
  end)
  return true
end

local function schedule_request(buf)
  if not config.options.suggest then
    return
  end
  M.timer = M.timer or uv.new_timer()
  M.timer:stop()
  M.timer:start(config.options.debounce_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_get_current_buf() == buf then
      M.request(buf)
    end
  end))
end

-- Called from Neovim's on_lines callback: everything that touches the screen is scheduled.
local function on_change(buf)
  M.sequence = M.sequence + 1 -- answers to requests made before this change are stale
  local shown = M.shown
  if shown then -- ignored: held until this change is logged as an edit (it is the user's actual next edit)
    M.shown = nil
    if M.held then
      feedback(M.held, "ignored")
    end
    M.held = shown
  end
  vim.schedule(function()
    if shown then
      display.clear(shown.buf)
    end
    schedule_request(buf)
  end)
end

local function before_edit(event)
  if M.held and not M.accepting then
    local held = M.held
    M.held = nil
    feedback(held, "ignored", event)
  end
end

-- The buffer was read again from its file (:e!, 'autoread'): the suggestion shown for its old text goes.
local function on_reload(buf)
  M.sequence = M.sequence + 1
  if M.shown and M.shown.buf == buf then
    on_change(buf)
  end
end

-- Whether `shown` is for the current buffer as it is now (a write does not change that).
local function current(shown)
  return shown.buf == vim.api.nvim_get_current_buf() and recorder.version(shown.buf) == shown.version
end

-- Whether a suggestion is on screen.
function M.visible()
  return M.shown ~= nil and current(M.shown)
end

-- The shown jump `shown` is done (the cursor is there): ask what to change there.
local function jumped(shown, buf)
  clear_shown()
  feedback(shown, "accepted")
  schedule_request(buf)
end

-- Accept the shown suggestion, or first bring it into view: when it is away from the cursor and
-- `jump_first` is set, or when any of it is off screen or in a closed fold (nothing is applied
-- unseen). Returns false when nothing was shown.
function M.accept()
  local shown = M.shown
  if not shown then
    return false
  end
  local buf = shown.buf
  if not current(shown) then
    retire("ignored")
    return false
  end
  local edit = shown.edit
  if shown.elsewhere then
    return M.open_elsewhere(shown)
  end
  local cursor_line = vim.api.nvim_win_get_cursor(0)[1]
  local jump = edit.jump_only or (config.options.jump_first and not shown.jumped and display.is_far(edit, cursor_line))
  if jump or not in_view(buf, edit) then
    bring_into_view(buf, edit)
    shown.jumped = true
    if edit.jump_only then
      jumped(shown, buf)
    else
      render()
    end
    return true
  end
  if not applies(buf, edit) then
    clear_shown()
    feedback(shown, "refused", nil, "the edit's lines are outside the buffer")
    return true
  end
  clear_shown()
  recorder.flush(buf)
  local insert_mode = vim.fn.mode() == "i"
  if insert_mode then
    vim.cmd("let &undolevels = &undolevels") -- close the insert's undo block: the edit is one undo step
  end
  recorder.suppress, M.accepting = true, true
  local ok, err = pcall(vim.api.nvim_buf_set_lines, buf, edit.line - 1, edit.line - 1 + edit.delete, false, edit.insert)
  recorder.suppress = false
  if not ok then -- nothing changed ('nomodifiable', say): not an accept
    M.accepting = false
    err = one_line(tostring(err):gsub("^Vim:", ""), 200)
    feedback(shown, "refused", nil, "could not apply the edit: " .. err)
    vim.notify("nep: could not apply the suggestion: " .. err, vim.log.levels.WARN)
    return true
  end
  if insert_mode then -- and what is typed next is another one: the insert goes on as after i_CTRL-G_u
    vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<C-g>u", true, false, true), "ni", false)
  end
  feedback(shown, "accepted") -- logged before the edit it led to
  local event = recorder.flush(buf)
  M.accepting = false
  local count = vim.api.nvim_buf_line_count(buf)
  local last = #edit.insert > 0 and edit.line + #edit.insert - 1 or edit.line
  last = math.max(1, math.min(last, count))
  local column = #edit.insert > 0 and #edit.insert[#edit.insert] or 0
  pcall(vim.api.nvim_win_set_cursor, 0, { last, column })
  -- the server speculated on the request it answered followed by this edit: the next request is that
  -- one when nothing else happened in between (no other event logged, the cursor where it is now)
  if event and shown.sent and recorder.remembered == shown.sent.remembered + 1 then
    M.after_accept = {
      buf = buf,
      version = recorder.version(buf),
      remembered = recorder.remembered,
      cursor = vim.api.nvim_win_get_cursor(0),
      prefix = shown.sent.body:sub(1, -3), -- without the history's "]" and the body's "}"
      event = { t = event.t, action = recorder.edit_action(recorder.path_of(buf), edit) },
    }
  end
  schedule_request(buf) -- the next edit often follows from this one
  return true
end

-- A window of the current tab page that shows `buf` (not a floating one), or nil.
local function window_of(buf)
  for _, window in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    if vim.api.nvim_win_get_buf(window) == buf and vim.api.nvim_win_get_config(window).relative == "" then
      return window
    end
  end
  return nil
end

-- The first accept of an edit in another file: go to that file at the edit (to a window of this tab
-- page that shows it, else in this window), and show the edit there (the next accept applies it). A
-- jump to another file is done then.
function M.open_elsewhere(shown)
  local edit = shown.edit
  M.switching = true
  local ok, err = pcall(function()
    local there = recorder.buffer_of(edit.file)
    local window = there and window_of(there)
    if window then -- shown in a window of this tab page: go there, and leave this window's buffer alone
      vim.api.nvim_set_current_win(window)
    elseif there then
      vim.api.nvim_set_current_buf(there)
    elseif recorded_file(edit.file) then -- checked again: the file may have changed since it was shown
      vim.cmd("edit " .. vim.fn.fnameescape(recorder.absolute(edit.file)))
    else
      error("not a file of this session")
    end
  end)
  M.switching = false
  display.clear(shown.buf)
  local buf = vim.api.nvim_get_current_buf()
  if not ok or recorder.path_of(buf) ~= edit.file or not applies(buf, edit) then
    M.shown = nil
    feedback(shown, "refused", nil, ok and "the edit's lines are outside " .. edit.file or ("cannot open " .. edit.file .. ": " .. tostring(err)))
    return true
  end
  edit = fitted(edit, buf)
  M.sequence = M.sequence + 1 -- answers in flight were for the other buffer
  bring_into_view(buf, edit)
  if edit.jump_only then
    jumped(shown, buf)
    return true
  end
  shown.buf, shown.version, shown.elsewhere, shown.jumped, shown.edit = buf, recorder.version(buf), false, true, edit
  render()
  return true
end

-- Dismiss the shown suggestion. Returns false when nothing was shown.
function M.dismiss()
  if not M.shown then
    return false
  end
  retire("dismissed")
  return true
end

local MODES = { "i", "n" }

local function termcodes(keys)
  return vim.api.nvim_replace_termcodes(keys, true, true, true)
end

local function description(which)
  return "NEP: " .. which .. " the suggestion"
end

-- Where the user's own mapping of the key `which` is kept while NEP's takes its place.
local function fallback_key(which)
  return "<Plug>(nep-" .. which .. "-fallback)"
end

-- The global mapping of `key` in `mode`, or nil: nvim_get_keymap's (maparg() gives a buffer's own
-- mapping first, which NEP's global one does not replace, and in Neovim 0.7 a Lua callback as a number,
-- which cannot be set again, and has no mapset()), with maparg()'s right-hand side as it was written
-- (nvim_get_keymap's is it read back: "\<C-N>" for "\<C-n>") unless it names <SID>, which only the
-- script that made it can.
local function global_mapping(mode, key)
  local wanted = termcodes(key)
  for _, mapping in ipairs(vim.api.nvim_get_keymap(mode)) do
    if termcodes(mapping.lhs) == wanted then
      local written = vim.fn.maparg(key, mode, false, true)
      if written.buffer == 0 and type(written.rhs) == "string" and not written.rhs:lower():find("<sid>", 1, true) then
        mapping.rhs = written.rhs
      end
      return mapping
    end
  end
  return nil
end

-- Map `lhs` in `mode` as `mapping` (global_mapping's) is: its right-hand side or Lua callback, expr,
-- noremap, silent, nowait, script and desc.
local function set_mapping(mode, lhs, mapping)
  local options = { noremap = mapping.noremap == 1, silent = mapping.silent == 1, expr = mapping.expr == 1,
    nowait = mapping.nowait == 1, script = mapping.script == 1, desc = mapping.desc,
    callback = type(mapping.callback) == "function" and mapping.callback or nil }
  if mapping.replace_keycodes ~= nil then -- Neovim 0.8 and later
    options.replace_keycodes = mapping.replace_keycodes == 1
  end
  vim.api.nvim_set_keymap(mode, lhs, mapping.rhs or "", options)
end

-- The mapped key `which` ("accept" or "dismiss") was pressed in `mode` with a suggestion shown: do it,
-- or when that turns out not to be possible, what the key does without NEP (the user's own mapping of
-- it, remapped as that mapping is, else the key itself).
function M.press(which, mode)
  if M[which]() or not M.mapped or not M.mapped[which] then
    return
  end
  if M.saved and M.saved[mode] and M.saved[mode][which] then
    vim.api.nvim_feedkeys(termcodes(fallback_key(which)), "im", false)
  else
    vim.api.nvim_feedkeys(termcodes(M.mapped[which]), "in", false)
  end
end

-- NEP's keys in Insert and Normal mode. A mapping of the user's (a completion plugin's <Tab>, an expr
-- mapping or a Lua callback) is kept: with no suggestion shown, or with the completion menu open,
-- the key does what that mapping did; unmap_keys puts it back.
local function map_keys()
  local keys = config.options.keys or {}
  M.mapped = { accept = keys.accept or nil, dismiss = keys.dismiss or nil }
  M.saved = {}
  for _, mode in ipairs(MODES) do
    M.saved[mode] = {}
    for which, key in pairs(M.mapped) do
      local user = global_mapping(mode, key)
      if user and user.desc == description(which) then -- NEP's own, left from an earlier setup
        user = nil
      end
      M.saved[mode][which] = user
      if user then
        set_mapping(mode, fallback_key(which), user)
      end
      local without = user and fallback_key(which) or key
      vim.keymap.set(mode, key, function()
        -- with the completion menu open the key is what it is without NEP (the menu's, or the user's mapping's)
        if M.visible() and vim.fn.pumvisible() == 0 then
          return string.format("<Cmd>lua require('nep').press(%q, %q)<CR>", which, mode)
        end
        return without
      end, { expr = true, silent = true, remap = user ~= nil, desc = description(which) })
    end
  end
end

local function unmap_keys()
  for mode, saved in pairs(M.saved or {}) do
    for which, key in pairs(M.mapped or {}) do
      local current = global_mapping(mode, key)
      if current and current.desc == description(which) then -- not replaced since by another plugin's
        pcall(vim.keymap.del, mode, key)
        if saved[which] then
          pcall(set_mapping, mode, saved[which].lhs, saved[which])
        end
      end
      if saved[which] then
        pcall(vim.keymap.del, mode, fallback_key(which))
      end
    end
  end
  M.mapped, M.saved = nil, nil
end

function M.enable()
  if M.enabled then
    return
  end
  M.enabled = true
  if not recorder.session then
    recorder.start()
  end
  recorder.on_change = on_change
  recorder.on_reload = on_reload
  recorder.before_edit = before_edit
  M.session_events, M.sent_events = {}, 0
  recorder.on_log = config.options.feedback_history and function(record)
    if M.skip_logged and record.action then
      M.skip_logged = false
      M.sent_events = M.sent_events + 1
    end
    M.session_events[#M.session_events + 1] = record
  end or nil
  display.define_highlights()
  map_keys()
  vim.api.nvim_create_autocmd({ "BufEnter", "BufReadPost", "BufNewFile", "FileType" }, {
    group = group,
    callback = function(args)
      recorder.attach(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd("BufFilePost", { -- :file NAME, :saveas: record it under its new name
    group = group,
    callback = function(args)
      if M.shown and M.shown.buf == args.buf then
        retire("ignored")
      end
      M.sequence = M.sequence + 1 -- answers on their way are for the old name
      M.after_accept = nil
      recorder.rename(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd({ "CursorMoved", "CursorMovedI" }, { group = group, callback = render })
  vim.api.nvim_create_autocmd("BufLeave", {
    group = group,
    callback = function()
      if not M.switching then -- accepting an edit in another file keeps it shown there
        retire("ignored")
      end
      recorder.flush_all()
    end,
  })
  vim.api.nvim_create_autocmd("VimLeavePre", {
    group = group,
    callback = function()
      M.disable()
    end,
  })
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    recorder.attach(buf)
  end
end

function M.disable()
  if not M.enabled then
    return
  end
  if M.timer then
    M.timer:stop()
  end
  clear_shown()
  recorder.flush_all() -- the edit being typed is logged: a held suggestion's feedback names it
  if M.held then -- no edit followed it: ignored, logged and sent like any other outcome
    local held = M.held
    M.held = nil
    feedback(held, "ignored")
  end
  -- feedback still on its way is sent before Neovim quits (at most one request timeout)
  vim.wait(config.options.timeout_ms, function()
    return (M.feedback_in_flight or 0) == 0
  end, 5)
  vim.api.nvim_clear_autocmds({ group = group })
  M.after_accept = nil
  unmap_keys()
  recorder.stop()
  M.enabled = false
  recorder.session = nil
end

function M.status()
  local lines = {
    string.format("nep: %s, server %s (%s)", M.enabled and "enabled" or "disabled", config.options.server, M.server_state),
  }
  if recorder.session then
    lines[#lines + 1] = string.format("session %s, log %s%s", recorder.session, recorder.log_path(),
      config.options.record and "" or " (recording off)")
    lines[#lines + 1] = string.format("recorded: %d edits in %d buffers, %d files skipped",
      recorder.counts.edits, vim.tbl_count(recorder.buffers), recorder.counts.skipped_files)
    if not recorder.writer and recorder.log_error then
      lines[#lines + 1] = "log: cannot be written: " .. tostring(recorder.log_error)
    elseif recorder.counts.unwritten > 0 then
      lines[#lines + 1] = string.format("log: %d records could not be written (last: %s)", recorder.counts.unwritten,
        tostring(recorder.log_error))
    end
  end
  local c = M.counts
  lines[#lines + 1] = string.format(
    "suggestions: %d requests, %d answers (%d stale, %d below min_confidence), %d errors, %d shown: %d accepted, %d dismissed, %d ignored, %d refused",
    c.requests, c.answers, c.stale, c.unsure, c.errors, c.shown, c.accepted, c.dismissed, c.ignored, c.refused)
  if #M.round_trips > 0 then
    local sorted = vim.deepcopy(M.round_trips)
    table.sort(sorted)
    lines[#lines + 1] = string.format("last server latency %s; round trip p50 %.1f ms over the last %d answers",
      M.last_latency_ms and string.format("%.1f ms", M.last_latency_ms) or "not given",
      sorted[math.max(1, math.ceil(#sorted / 2))], #sorted)
  end
  if M.not_asked then
    lines[#lines + 1] = "not asked: " .. M.not_asked
  end
  for path, reason in pairs(recorder.skipped) do
    lines[#lines + 1] = string.format("skipped %s: %s", path, reason)
  end
  return table.concat(lines, "\n")
end

function M.setup(options)
  local was_enabled = M.enabled
  if was_enabled then
    M.disable()
  end
  config.setup(options)
  if options == nil or options.enabled ~= false then
    M.enable()
  end
end

return M
