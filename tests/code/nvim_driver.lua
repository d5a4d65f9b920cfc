-- Drives the NEP Neovim plugin in a real headless Neovim for tests/code/test_nvim_client.py.
-- Settings come from the environment: NEP_DRIVER_SCENARIO (record | serve | ...), NEP_DRIVER_FILE (the
-- file to edit), NEP_DRIVER_SERVER (the server URL), NEP_DRIVER_RESULT (where the JSON result goes),
-- NEP_DRIVER_ANSWERS (a file a crafted server answers with; the driver writes it).
-- Keys are typed with nvim_feedkeys(..., "xt"): as if typed, through mappings, one change at a time.
local result = { messages = {}, steps = {} }
local result_path = os.getenv("NEP_DRIVER_RESULT")

local function save()
  local handle = assert(io.open(result_path, "w"))
  handle:write(vim.json.encode(result))
  handle:close()
end

local function fail(message)
  result.error = message
  save()
  vim.cmd("qall!")
end

local original_notify = vim.notify
vim.notify = function(message, level)
  table.insert(result.messages, message)
end

local function type_keys(keys, flags)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), flags or "xt", false)
end

local function buffer_text()
  return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n") .. "\n"
end

-- No timing in these tests: edits are cut explicitly and waits are for conditions (10 s at most).
local function wait_for(condition)
  return vim.wait(10000, condition, 5)
end

-- Wait until no request is due or unanswered.
local function settle()
  local nep = require("nep")
  wait_for(function()
    local c = nep.counts
    return not (nep.timer and nep.timer:is_active()) and c.answers + c.errors + c.stale >= c.requests
  end)
end

-- The crafted server's answer to the next requests: these suggestions.
local function answer_with(suggestions)
  local handle = assert(io.open(os.getenv("NEP_DRIVER_ANSWERS"), "w"))
  handle:write(vim.json.encode({ suggestions = suggestions, best_is_no_edit = #suggestions == 0, request_id = "r" }))
  handle:close()
end

local function suggested(action, probability)
  return { action = action, probability = probability or 0.9, confidence = probability or 0.9 }
end

-- The text of the suggestion's marks in the current buffer: virtual text, then virtual lines, and
-- whether any virtual lines are drawn above their line.
local function marks()
  local texts, lines, above = {}, {}, false
  for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(0, require("nep.display").namespace, 0, -1, { details = true })) do
    for _, chunk in ipairs(mark[4].virt_text or {}) do
      texts[#texts + 1] = chunk[1]
    end
    for _, line in ipairs(mark[4].virt_lines or {}) do
      lines[#lines + 1] = line[1][1]
    end
    above = above or mark[4].virt_lines_above == true
  end
  return { text = table.concat(texts, "|"), lines = lines, above = above }
end

-- What the screen shows now (headless Neovim keeps its grid): one string a row, trailing blanks cut.
local function screen()
  vim.cmd("redraw")
  local rows = {}
  for row = 1, vim.o.lines - vim.o.cmdheight - 1 do
    local chars = {}
    for column = 1, vim.o.columns do
      chars[column] = vim.fn.screenstring(row, column)
    end
    rows[row] = (table.concat(chars):gsub("%s+$", ""))
  end
  return rows
end

-- Ask the crafted server now, once nothing else is on its way, and wait for the answer to `suggestions`.
local function ask(suggestions)
  settle()
  answer_with(suggestions)
  require("nep").request()
  settle()
end

-- A suggested edit of the file being driven.
local function change(line, delete, insert)
  return suggested({ kind = "edit", target = { file = os.getenv("NEP_DRIVER_FILE"), line = line },
    args = { delete = delete, insert = insert } })
end

-- End the edit being typed, and wait for the request the change started to be answered or to fail.
local function step_done()
  local nep, recorder = require("nep"), require("nep.recorder")
  recorder.flush_all()
  local before = nep.counts.requests
  wait_for(function()
    local c = nep.counts
    return c.requests > before and c.answers + c.errors + c.stale >= c.requests
  end)
end

-- What maparg() says of the mappings of NEP's keys (the Lua callback's number aside: whether there is one).
local function key_mappings()
  local maps = {}
  for _, mode_key in ipairs({ { "i", "<Tab>" }, { "n", "<Tab>" }, { "i", "<C-]>" }, { "n", "<C-]>" } }) do
    local d = vim.fn.maparg(mode_key[2], mode_key[1], false, true)
    maps[mode_key[1] .. " " .. mode_key[2]] = { lhs = d.lhs, rhs = d.rhs, mode = d.mode, expr = d.expr, noremap = d.noremap,
      silent = d.silent, desc = d.desc, callback = d.callback ~= nil }
  end
  return maps
end

vim.cmd("runtime plugin/nep.lua") -- -u NONE loads no plugins; this is what a plugin manager does
local nep = require("nep")
local scenario = os.getenv("NEP_DRIVER_SCENARIO")

local ok, err = pcall(function()
  if scenario == "record" then
    vim.cmd("autocmd BufReadPost *.msg setlocal filetype=gitcommit") -- before NEP's: an excluded filetype
  elseif scenario == "user keys" then
    -- the user's own mappings of NEP's keys, made before setup(): an expr mapping (as a completion
    -- plugin's <Tab>), a plain one, a recursive one and a Lua callback
    vim.cmd([[inoremap <expr> <Tab> pumvisible() ? "\<C-n>" : "[tab]"]])
    vim.cmd("nnoremap <silent> <Tab> :let g:user_tab = get(g:, 'user_tab', 0) + 1<CR>")
    vim.cmd("inoremap <Plug>(user-dismiss) [dismiss]")
    vim.cmd("imap <C-]> <Plug>(user-dismiss)")
    vim.keymap.set("n", "<C-]>", function()
      vim.g.user_dismiss = (vim.g.user_dismiss or 0) + 1
    end, { desc = "the user's" })
    result.mappings_before = key_mappings()
  end
  nep.setup({ server = os.getenv("NEP_DRIVER_SERVER"), debounce_ms = 30, merge_ms = 600000, timeout_ms = 5000,
    max_history_events = scenario == "record" and 3 or 64, feedback_history = scenario == "insert" or scenario == "budget",
    min_confidence = scenario == "unsure" and 1 or nil, max_file_bytes = scenario == "record" and 1000 or nil })
  if scenario == "slow" then
    require("nep.config").options.timeout_ms = 300 -- the crafted server takes a second
  end
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("NEP_DRIVER_FILE")))
  local recorder = require("nep.recorder")
  result.session = recorder.session
  result.log_path = recorder.log_path()

  if scenario == "record" then
    type_keys("2GA  # two<Esc>") -- typing at the end of a line: one edit
    step_done()
    type_keys("Go<CR>def g():<CR>    return 1<Esc>") -- three new lines typed in one go: one edit
    step_done()
    type_keys("1Gdd") -- a deletion
    step_done()
    type_keys("u") -- undo is an edit too
    step_done()
    vim.api.nvim_buf_set_lines(0, 2, 3, false, { "x = 'é'", "y = 2" }) -- a change made by a plugin
    type_keys("GA  # trailing<Esc>3GAz<Esc>") -- two places within the merge time: two edits
    step_done() -- the requests to the closed port fail; the message is shown once
    type_keys("Go<Tab>t<Esc>") -- no suggestion shown: <Tab> is an ordinary <Tab>
    step_done()
    result.requests = nep.counts.requests
    result.final_text = buffer_text()
    result.request_history = recorder.request_history(vim.api.nvim_get_current_buf()) -- older edits folded in
    vim.cmd("write")
    vim.cmd("edit blob.bin") -- NUL bytes: not recorded, counted
    type_keys("ggOtext<Esc>")
    -- nor are these, each listed: latin1 (Neovim converts it), bytes no encoding but latin1 reads, an
    -- excluded filetype, a file over max_file_bytes (1000 here), and files that may hold secrets
    result.asked_in = {}
    for _, name in ipairs({ "latin.py", "rand.bin", "notes.msg", "big.py", ".env", "deploy/Server.PEM" }) do
      vim.cmd("edit! " .. name)
      type_keys("ggOtext<Esc>")
      result.asked_in[name] = nep.request()
    end
    recorder.flush_all()
    vim.cmd("edit! m.py")
  elseif scenario == "serve" then
    -- the fitted n-gram learned: after this edit of line 1 comes the call-site edit, then an added line
    type_keys("1G$F)i, depth<Esc>")
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown after the first edit: " .. nep.status())
    end
    local first = nep.shown
    result.steps[#result.steps + 1] = { shown = first.action, request_id = first.request_id, before = buffer_text(),
      cursor = vim.api.nvim_win_get_cursor(0)[1] }
    type_keys("<Tab>") -- away from the cursor: the first <Tab> jumps there
    result.steps[#result.steps].jumped_to = vim.api.nvim_win_get_cursor(0)[1]
    result.steps[#result.steps].still_shown = nep.visible()
    type_keys("<Tab>") -- the second accepts
    result.steps[#result.steps].after = buffer_text()
    result.steps[#result.steps].cursor_after = vim.api.nvim_win_get_cursor(0)
    -- accepting asks for the next suggestion at once
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown after accepting: " .. nep.status())
    end
    result.steps[#result.steps + 1] = { shown = nep.shown.action, before = buffer_text() }
    type_keys("<C-]>") -- dismiss
    result.steps[#result.steps].after = buffer_text()
    result.steps[#result.steps].still_shown = nep.visible()
    type_keys(":NepSuggest<CR>") -- the same context again: the same suggestion
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown for :NepSuggest: " .. nep.status())
    end
    result.steps[#result.steps + 1] = { shown = nep.shown.action }
    type_keys("2GA  # area<Esc>") -- the user does something else: ignored
    step_done()
    wait_for(function() return nep.last_feedback and nep.last_feedback.outcome == "ignored" end)
    result.steps[#result.steps].still_shown = nep.visible()
    -- undo: the accepted edit is one undo step, after the typed comment's
    type_keys("uu")
    result.after_two_undos = buffer_text()
    type_keys("<C-r><C-r>")
    step_done()
  elseif scenario == "unsure" then
    -- min_confidence 1: the n-gram's suggestion (probability below 1) is answered but not shown
    type_keys("1G$F)i, depth<Esc>")
    step_done()
    result.steps[#result.steps + 1] = { shown = nep.visible(), counts = vim.deepcopy(nep.counts), status = nep.status() }
    require("nep.config").options.min_confidence = 0
    type_keys(":NepSuggest<CR>")
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown with min_confidence 0: " .. nep.status())
    end
    result.steps[#result.steps + 1] = { shown = nep.shown.action }
  elseif scenario == "quit" then
    -- a suggestion is shown, the user types something else, and quits at once: no step_done, no NepDisable
    type_keys("1G$F)i, depth<Esc>")
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown after the first edit: " .. nep.status())
    end
    result.steps[#result.steps + 1] = { shown = nep.shown.action, request_id = nep.shown.request_id }
    recorder.flush_all() -- the signature edit is logged on its own, as after a pause
    type_keys("2GA  # area<Esc>")
    result.held = nep.held ~= nil
    result.final_text = buffer_text()
    save()
    vim.cmd("qall!")
  elseif scenario == "crossfile" then
    -- a rename in core.py; the fitted n-gram learned that web.py's import follows
    vim.cmd("edit web.py")
    vim.cmd("edit core.py")
    type_keys("1GwcwBaseParser<Esc>")
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown after the rename: " .. nep.status())
    end
    local history = recorder.request_history(vim.api.nvim_get_current_buf())
    local marks = vim.api.nvim_buf_get_extmarks(0, require("nep.display").namespace, 0, -1, { details = true })
    local step = { shown = nep.shown.action, elsewhere = nep.shown.elsewhere, sent_files = vim.tbl_keys(history[1].state.files),
      hint = marks[1] and marks[1][4].virt_text[1][1] or "" }
    result.steps[#result.steps + 1] = step
    type_keys("<Tab>") -- opens web.py at the edit
    step.buffer_after_first = recorder.relative(vim.api.nvim_buf_get_name(0))
    step.cursor_after_first = vim.api.nvim_win_get_cursor(0)[1]
    step.still_shown = nep.visible()
    type_keys("<Tab>") -- applies it
    step.after = buffer_text()
    step.accepted = nep.counts.accepted
  elseif scenario == "hostile" or scenario == "slow" then
    -- a crafted answer (the test's fake server): nothing may be shown, opened, run or sent
    vim.v.errmsg = ""
    type_keys("1GwcwBaseParser<Esc>")
    step_done()
    local step = { shown = nep.visible(), answers = nep.counts.answers, errors = nep.counts.errors,
      unsure = nep.counts.unsure, status = nep.status(), errmsg = vim.v.errmsg }
    type_keys("<Tab>")
    type_keys("<Tab>")
    local names = {}
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) then
        names[#names + 1] = recorder.relative(vim.api.nvim_buf_get_name(buf))
      end
    end
    step.buffers, step.accepted = names, nep.counts.accepted
    result.steps[#result.steps + 1] = step
  elseif scenario == "insert" then
    -- the same, never leaving Insert mode: keys typed by timers while Insert mode waits for input
    local tries = 0
    local function step()
      tries = tries + 1
      if not nep.visible() and tries < 1000 then
        return vim.defer_fn(step, 10)
      end
      local before = buffer_text()
      result.steps[#result.steps + 1] = { shown = nep.shown and nep.shown.action, mode = vim.fn.mode() }
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<Tab><Tab>", true, false, true), "t", false)
      local polls = 0
      local function accepted()
        polls = polls + 1
        if buffer_text() == before and polls < 1000 then
          return vim.defer_fn(accepted, 10)
        end
        result.steps[#result.steps].after = buffer_text()
        result.steps[#result.steps].mode_after = vim.fn.mode()
        vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<Esc>", true, false, true), "t", false)
      end
      vim.defer_fn(accepted, 10)
    end
    vim.defer_fn(step, 10)
    type_keys("1G$F)i, depth", "xt!") -- returns when the timers press <Esc>
    type_keys("u")
    result.after_undo = buffer_text()
  elseif scenario == "view" then
    -- long.py has 100 lines and the window shows about 20: an edit is on screen before a key applies it
    vim.o.hidden = true
    vim.cmd("edit other.py | edit long.py")
    local function edit(line, insert)
      return suggested({ kind = "edit", target = { file = "long.py", line = line }, args = { delete = 1, insert = insert } })
    end
    local function look(case, line)
      result.steps[#result.steps + 1] = { case = case, text = buffer_text(), cursor = vim.api.nvim_win_get_cursor(0)[1],
        shown = nep.visible(), top = vim.fn.line("w0"), bottom = vim.fn.line("w$"), folded = vim.fn.foldclosed(line) ~= -1,
        marks = marks(), file = recorder.relative(vim.api.nvim_buf_get_name(0)), accepted = nep.counts.accepted }
    end
    local function tab_twice(case, line)
      look(case, line)
      type_keys("<Tab>")
      look(case, line)
      type_keys("<Tab>")
      look(case, line)
      vim.cmd("silent undo | normal! zE")
    end
    vim.cmd("setlocal foldmethod=manual | 5,9fold")
    type_keys("4G")
    ask({ edit(5, "v5 = 'in a fold'\n") }) -- next to the cursor, in a closed fold
    tab_twice("fold", 5)
    vim.cmd("40,50fold")
    type_keys("1G")
    ask({ edit(45, "v45 = 'far, in a fold'\n") })
    tab_twice("far fold", 45)
    require("nep.config").options.jump_first = false
    type_keys("1Gzt")
    ask({ edit(90, "v90 = 'off screen'\n") })
    tab_twice("off screen", 90)
    type_keys("1Gzt")
    ask({ edit(15, "v15 = 'on screen'\n") })
    look("on screen", 15)
    type_keys("<Tab>") -- on screen: applied at once, as jump_first = false says
    look("on screen", 15)
    vim.cmd("silent undo")
    require("nep.config").options.jump_first = true
    type_keys("1G")
    ask({ suggested({ kind = "jump", target = { file = "long.py", line = 60 } }) })
    look("jump", 60)
    type_keys("<Tab>")
    look("jump", 60)
    type_keys("1G")
    ask({ suggested({ kind = "jump", target = { file = "other.py", line = 3 } }), edit(7, "v7 = 'less likely'\n") })
    look("jump elsewhere", 3)
    answer_with({})
    type_keys("<Tab>")
    look("jump elsewhere", 3)
    settle()
  elseif scenario == "edges" then
    -- e.py has 30 lines; a 24-line screen. Each look records what the screen shows.
    vim.o.lines, vim.o.columns = 24, 80
    local function look(case)
      result.steps[#result.steps + 1] = { case = case, text = buffer_text(), shown = nep.visible(), marks = marks(),
        screen = screen(), top = vim.fn.line("w0"), cursor = vim.api.nvim_win_get_cursor(0)[1] }
    end
    local function tab_until_applied(case)
      look(case)
      for _ = 1, 2 do
        if nep.visible() then
          type_keys("<Tab>")
          look(case)
        end
      end
    end
    -- an insertion above line 1, the cursor on line 2 and the window at the top
    type_keys("2G")
    ask({ change(1, 0, "import os\n") })
    tab_until_applied("above line 1")
    vim.cmd("silent undo")
    -- the same with line 1 scrolled off: the first <Tab> brings it into view
    type_keys("30Gzb")
    ask({ change(1, 0, "import os\n") })
    tab_until_applied("above line 1, scrolled")
    vim.cmd("silent undo")
    -- a pure deletion, and a replacement of the last line
    type_keys("12G")
    ask({ change(13, 2, "") })
    tab_until_applied("deletion")
    vim.cmd("silent undo")
    type_keys("29G")
    ask({ change(30, 1, "v30 = 'last'\n") })
    tab_until_applied("last line")
  elseif scenario == "save" then
    -- :w while a suggestion is shown changes 'changedtick' but not the text
    type_keys("5G")
    ask({ change(6, 1, "v6 = 'saved'\n") })
    local step = { shown = nep.visible() }
    result.steps[1] = step
    vim.cmd("write")
    step.shown_after_write = nep.visible()
    type_keys("<Tab>")
    step.text = buffer_text()
    vim.cmd("silent undo")
    -- a write while the answer is on its way
    settle()
    answer_with({ change(8, 1, "v8 = 'after a write'\n") })
    type_keys("7G")
    nep.request()
    vim.cmd("write")
    settle()
    step.answered_after_write = nep.visible() and nep.shown.action or false
    -- a suggestion that no longer fits its buffer when the key is pressed: the key does what it does without NEP
    if nep.shown then
      nep.shown.version, nep.shown.tick = -1, -1
    end
    type_keys("A<Tab><Esc>")
    step.line7 = vim.fn.getline(7)
  elseif scenario == "reload" then
    -- the file is made shorter on disk and read again while a suggestion for its line 13 is shown
    type_keys("12G")
    ask({ change(13, 1, "v13 = 'x'\n") })
    local step = { shown = nep.visible(), errors = {} }
    result.steps[1] = step
    vim.fn.writefile({ "a = 1", "b = 2" }, os.getenv("NEP_DRIVER_FILE"))
    vim.v.errmsg = ""
    vim.cmd("edit!")
    for _, keys in ipairs({ "j", "k", "G", "gg" }) do
      local moved, why = pcall(type_keys, keys)
      local fired, fired_why = pcall(vim.cmd, "doautocmd CursorMoved")
      step.errors[#step.errors + 1] = not moved and tostring(why) or (not fired and tostring(fired_why)) or nil
    end
    vim.wait(50)
    step.errmsg, step.shown_after, step.marks, step.text = vim.v.errmsg, nep.visible(), marks(), buffer_text()
    type_keys("1GAz<Esc>")
    recorder.flush_all()
  elseif scenario == "pum" then
    -- the completion menu is open (<C-n> in Insert mode) when a suggestion is shown: <Tab> is the menu's
    vim.o.completeopt = "menu"
    answer_with({ change(3, 1, "x = 3\n") })
    local step, tries = {}, 0
    result.steps[1] = step
    local function press()
      tries = tries + 1
      if not (nep.visible() and vim.fn.pumvisible() == 1) and tries < 1000 then
        return vim.defer_fn(press, 10)
      end
      step.pum, step.shown = vim.fn.pumvisible() == 1, nep.visible()
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<Tab>", true, false, true), "t", false)
      vim.defer_fn(function()
        step.text = buffer_text()
        vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<Esc>", true, false, true), "t", false)
      end, 50)
    end
    vim.defer_fn(press, 10)
    type_keys("4GA + va<C-n>", "xt!") -- returns when the timer presses <Esc>
  elseif scenario == "insert undo" then
    -- in Insert mode: type, accept the suggestion next to the cursor, type on, leave Insert mode
    answer_with({ change(6, 1, "v6 = 'accepted'\n") })
    local tries = 0
    local function accept()
      tries = tries + 1
      if not nep.visible() and tries < 1000 then
        return vim.defer_fn(accept, 10)
      end
      local before = buffer_text()
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("<Tab>", true, false, true), "t", false)
      local polls = 0
      local function type_on()
        polls = polls + 1
        if buffer_text() == before and polls < 1000 then
          return vim.defer_fn(type_on, 10)
        end
        result.accepted = buffer_text()
        vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("  # typed<Esc>", true, false, true), "t", false)
      end
      vim.defer_fn(type_on, 10)
    end
    vim.defer_fn(accept, 10)
    type_keys("5GA  # first", "xt!") -- returns when the timers press <Esc>
    result.typed = buffer_text()
    type_keys("u")
    result.after_undo = buffer_text()
    type_keys("u")
    result.after_two_undos = buffer_text()
  elseif scenario == "nomodifiable" then
    type_keys("5G")
    ask({ change(6, 1, "v6 = 'x'\n") })
    vim.bo.modifiable = false
    type_keys("<Tab>")
    result.steps[1] = { text = buffer_text(), shown = nep.visible() }
    vim.bo.modifiable = true
  elseif scenario == "rename" then
    local buf = vim.api.nvim_get_current_buf()
    type_keys("1GA  # one<Esc>")
    recorder.flush_all()
    vim.cmd("file renamed.py")
    type_keys("2GA  # two<Esc>")
    recorder.flush_all()
    result.request_history = recorder.request_history(buf)
    result.renamed_text = buffer_text()
    vim.cmd("saveas saved.py")
    type_keys("1GA!<Esc>")
    recorder.flush_all()
  elseif scenario == "speculate" then
    -- the n-gram's call-site suggestion, accepted a moment after it is shown
    type_keys("1G$F)i, depth<Esc>")
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown after the first edit: " .. nep.status())
    end
    local first = nep.shown
    result.first = { shown = first.action, sent = first.sent and vim.json.decode(first.sent.body) }
    vim.wait(500) -- the user reads it: meanwhile the server speculates on its being accepted
    type_keys("<Tab>") -- jumps there
    type_keys("<Tab>") -- applies it
    result.accepted_text = buffer_text()
    result.accepted_cursor = vim.api.nvim_win_get_cursor(0)
    result.next_request = nep.request_body and vim.json.decode((nep.request_body()))
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown after accepting: " .. nep.status())
    end
    result.next_shown = nep.shown.action
  elseif scenario == "crlf" then
    -- crlf.py is read as 'fileformat' dos; the crafted server's suggestion ends its line in \r\n
    result.fileformat = vim.bo.fileformat
    type_keys("1GA  # x<Esc>")
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown: " .. nep.status())
    end
    result.marks = marks()
    type_keys("<Tab>")
    vim.cmd("write")
  elseif scenario == "wipe" then
    -- every line deleted (Neovim keeps one empty line), then lines put back: after each step the text,
    -- and how many edits the log holds then
    local function look(case)
      recorder.flush_all()
      result.steps[#result.steps + 1] = { case = case, text = buffer_text(), edits = recorder.counts.edits }
    end
    type_keys("ggdG")
    look("ggdG")
    type_keys("p")
    look("p")
    type_keys("ggdGonew<Esc>") -- one edit (merge_ms)
    look("ggdG then o")
    type_keys("ggdGu")
    look("ggdG then u")
    type_keys("ggdG")
    look("ggdG again")
    type_keys("u")
    look("u")
    type_keys("ggdGP")
    look("ggdG then P")
    type_keys("ggdG")
    look("ggdG a third time")
    type_keys("ihello<Esc>")
    look("typed into the empty line")
    vim.api.nvim_buf_set_lines(0, 0, -1, false, {})
    look("nvim_buf_set_lines to no lines")
    vim.api.nvim_buf_set_lines(0, 0, -1, false, { "a", "b" })
    look("nvim_buf_set_lines")
    type_keys("ggdGAend<Esc>")
    result.request_history = recorder.request_history(vim.api.nvim_get_current_buf()) -- with the edit being typed
  elseif scenario == "user keys" then
    local function counters()
      return { tab = vim.g.user_tab or 0, dismiss = vim.g.user_dismiss or 0 }
    end
    local step = {}
    result.steps[1] = step
    -- no suggestion shown: each key does what the user's mapping does
    type_keys("1GA<Tab><C-]><Esc>")
    type_keys("<Tab><C-]>")
    step.line1, step.counters = vim.fn.getline(1), counters()
    -- press() when the suggestion went before its key was handled: the user's mapping, remapped as it is
    type_keys("2GA<Cmd>lua require('nep').press('accept', 'i')<CR><Cmd>lua require('nep').press('dismiss', 'i')<CR><Esc>")
    step.line2 = vim.fn.getline(2)
    -- a suggestion shown: the keys are NEP's
    type_keys("4G")
    ask({ change(5, 1, "v5 = 'accepted'\n") })
    step.shown = nep.visible()
    type_keys("<Tab>")
    step.line5 = vim.fn.getline(5)
    ask({ change(7, 1, "v7 = 'dismissed'\n") })
    step.shown_again = nep.visible()
    type_keys("<C-]>")
    step.after_dismiss = { shown = nep.visible(), line7 = vim.fn.getline(7), counters = counters() }
    -- :NepDisable puts the user's mappings back
    vim.cmd("NepDisable")
    result.mappings_after = key_mappings()
    type_keys("3GA<Tab><C-]><Esc>")
    type_keys("<Tab><C-]>")
    step.line3, step.counters_after = vim.fn.getline(3), counters()
  elseif scenario == "windows" then
    -- web.py in a window below core.py's; the suggestion is an edit of web.py with a long first line
    vim.cmd("belowright split web.py")
    local web_window = vim.api.nvim_get_current_win()
    vim.cmd("wincmd p")
    local core_window = vim.api.nvim_get_current_win()
    local function look()
      local text = marks().text
      return { shown = nep.visible(), hint = recorder.valid_utf8(text) and text or "not UTF-8",
        in_web_window = vim.api.nvim_get_current_win() == web_window,
        core_window_shows = recorder.relative(vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(core_window))),
        web_window_shows = recorder.relative(vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(web_window))),
        windows = #vim.api.nvim_tabpage_list_wins(0), file = recorder.relative(vim.api.nvim_buf_get_name(0)),
        cursor = vim.api.nvim_win_get_cursor(0)[1], accepted = nep.counts.accepted }
    end
    ask({ suggested({ kind = "edit", target = { file = "web.py", line = 2 },
      args = { delete = 1, insert = "from core import BaseParser  # " .. string.rep("é", 40) .. "\n" } }) })
    result.steps[1] = look()
    type_keys("<Tab>")
    result.steps[2] = look()
    type_keys("<Tab>")
    result.steps[3] = look()
    result.web_text = buffer_text()
    vim.api.nvim_set_current_win(core_window)
  elseif scenario == "budget" then
    -- big1.py (500 KB) and big2.py (600 KB) edited, then calc.py: together over nep serve's body limit
    for _, name in ipairs({ "big1.py", "big2.py" }) do
      vim.cmd("edit " .. name)
      type_keys("ggOx = 1<Esc>")
      step_done()
      vim.cmd("write")
    end
    vim.cmd("edit calc.py")
    type_keys("1G$F)i, depth<Esc>")
    if not wait_for(function() return nep.visible() end) then
      return fail("no suggestion shown: " .. nep.status())
    end
    type_keys("<C-]>") -- its feedback carries the session's events: over the limit too
    wait_for(function() return nep.last_feedback ~= nil end)
    result.feedback = nep.last_feedback
    local buf = vim.api.nvim_get_current_buf()
    local history, json = recorder.request_history(buf, 1048576)
    result.sent = { history = history, bytes = #json }
    -- a block pasted and taken back: this file's own events are over a small budget, the file is not
    vim.api.nvim_buf_set_lines(buf, 5, 5, false, vim.split(string.rep("# pad\n", 2000), "\n"))
    recorder.flush_all()
    vim.api.nvim_buf_set_lines(buf, 5, 2006, false, {})
    recorder.flush_all()
    history, json = recorder.request_history(buf, 4000)
    result.small = { history = history, bytes = #json }
    local _, _, why = recorder.request_history(buf, 100)
    result.tiny = why
  end
  result.final_text = result.final_text or buffer_text()
  result.counts = nep.counts
  result.status = nep.status()
  vim.cmd("NepDisable")
end)
if not ok then
  fail(tostring(err))
else
  save()
  vim.cmd("qall!")
end
