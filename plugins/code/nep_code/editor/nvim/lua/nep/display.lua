-- Draws a suggested edit with extmarks: the lines it replaces or deletes are highlighted (NepDelete,
-- "NEP: replace" or "NEP: delete" at the end of the first), the lines it adds appear as virtual lines
-- (NepInsert), and when the edit is away from the cursor a jump marker (NepJump) at the end of the
-- cursor line says where.
local M = {}
M.namespace = vim.api.nvim_create_namespace("nep")

function M.define_highlights()
  vim.api.nvim_set_hl(0, "NepInsert", { default = true, link = "DiffAdd" })
  vim.api.nvim_set_hl(0, "NepDelete", { default = true, link = "DiffDelete" })
  vim.api.nvim_set_hl(0, "NepJump", { default = true, link = "Comment" })
end

function M.clear(buf)
  if buf and vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_clear_namespace(buf, M.namespace, 0, -1)
  end
end

-- Whether the edit lies away from the cursor line (more than one line above or below its range).
function M.is_far(edit, cursor_line)
  local first = edit.line
  local last = edit.line + math.max(edit.delete, 1) - 1
  return cursor_line < first - 1 or cursor_line > last + 1
end

-- An extmark at `row` (0-based) of `buf`, or none when `row` is no longer in the buffer (a reload
-- may shorten it before the suggestion is cleared): drawing never raises.
local function mark(buf, row, options)
  if row < 0 or row >= vim.api.nvim_buf_line_count(buf) then
    return false
  end
  return (pcall(vim.api.nvim_buf_set_extmark, buf, M.namespace, row, 0, options))
end

-- What a suggested edit does, in a word: "replace", "delete" or "insert".
function M.verb(edit)
  if #edit.insert == 0 then
    return "delete"
  end
  return edit.delete > 0 and "replace" or "insert"
end

M.ABOVE_LINE_1 = "↑ NEP: insert above line 1:"

-- How many virtual lines show `edit`: the lines it adds, under a label when they go above line 1.
function M.virtual_lines(edit)
  if #edit.insert == 0 then
    return 0
  end
  return #edit.insert + (edit.line - 2 + edit.delete < 0 and 1 or 0)
end

-- Draw `edit` ({line, delete, insert = lines, jump_only}) in `buf`; `jump` draws the marker at `cursor_line`.
-- Lines added above line 1 are drawn below it, under a label that says they go above it: Neovim 0.7
-- draws virtual lines above the first line only when the window is scrolled up to them, which no
-- motion does, so they would not be seen.
function M.show(buf, edit, cursor_line, jump)
  M.clear(buf)
  local count = vim.api.nvim_buf_line_count(buf)
  local last_deleted = math.min(edit.line + edit.delete - 2, count - 1)
  for row = edit.line - 1, last_deleted do
    local options = {
      end_row = row + 1,
      end_col = 0,
      hl_group = "NepDelete",
      hl_eol = true,
      virt_text = { { row == edit.line - 1 and " NEP: " .. M.verb(edit) or "", "NepJump" } },
      virt_text_pos = "eol",
    }
    if not mark(buf, row, options) then -- the buffer's last line: highlight to its end instead
      options.end_row, options.end_col = row, #(vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or "")
      mark(buf, row, options)
    end
  end
  if #edit.insert > 0 then
    local virt_lines = {}
    local row = edit.line - 2 + edit.delete
    if row < 0 then
      row = 0
      virt_lines[1] = { { M.ABOVE_LINE_1, "NepJump" } }
    end
    for _, line in ipairs(edit.insert) do
      virt_lines[#virt_lines + 1] = { { line == "" and " " or line, "NepInsert" } }
    end
    mark(buf, math.min(row, count - 1), { virt_lines = virt_lines })
  end
  if jump then
    local where = edit.line < cursor_line and "↑" or "↓"
    local verb = edit.jump_only and "jump to" or (edit.delete > 0 and "edit at" or "insert at")
    mark(buf, cursor_line - 1, {
      virt_text = { { string.format("  %s NEP: %s line %d", where, verb, edit.line), "NepJump" } },
      virt_text_pos = "eol",
    })
  end
end

-- Point from the cursor line of `buf` to `edit` in another file: where it goes and its first line, at
-- most 60 characters of it (whole characters: a cut inside one would draw a broken byte).
function M.show_elsewhere(buf, edit, cursor_line)
  M.clear(buf)
  local first = edit.insert[1] and "  " .. vim.fn.strcharpart(vim.trim(edit.insert[1]), 0, 60) or ""
  local verb = edit.jump_only and "jump to" or (#edit.insert == 0 and "delete" or (edit.delete > 0 and "edit" or "insert"))
  mark(buf, cursor_line - 1, {
    virt_text = { { string.format("  → NEP: %s %s:%d%s", verb, edit.file, edit.line, first), "NepJump" } },
    virt_text_pos = "eol",
  })
end

return M
