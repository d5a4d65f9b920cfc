-- Draws a suggested edit with extmarks: the lines it replaces are highlighted (NepDelete), the
-- lines it adds appear as virtual lines (NepInsert), and when the edit is away from the cursor a
-- jump marker (NepJump) at the end of the cursor line says where.
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

-- Draw `edit` ({line, delete, insert = lines, jump_only}) in `buf`; `jump` draws the marker at `cursor_line`.
function M.show(buf, edit, cursor_line, jump)
  M.clear(buf)
  local count = vim.api.nvim_buf_line_count(buf)
  for row = edit.line - 1, edit.line + edit.delete - 2 do
    vim.api.nvim_buf_set_extmark(buf, M.namespace, row, 0, {
      end_row = row + 1,
      end_col = 0,
      hl_group = "NepDelete",
      hl_eol = true,
      virt_text = { { row == edit.line - 1 and " NEP: replace" or "", "NepJump" } },
      virt_text_pos = "eol",
    })
  end
  if #edit.insert > 0 then
    local virt_lines = {}
    for _, line in ipairs(edit.insert) do
      virt_lines[#virt_lines + 1] = { { line == "" and " " or line, "NepInsert" } }
    end
    local row, above = edit.line - 2 + edit.delete, false
    if row < 0 then
      row, above = 0, true
    end
    row = math.min(row, count - 1)
    vim.api.nvim_buf_set_extmark(buf, M.namespace, row, 0, { virt_lines = virt_lines, virt_lines_above = above })
  end
  if jump then
    local where = edit.line < cursor_line and "↑" or "↓"
    local verb = edit.jump_only and "jump to" or (edit.delete > 0 and "edit at" or "insert at")
    vim.api.nvim_buf_set_extmark(buf, M.namespace, cursor_line - 1, 0, {
      virt_text = { { string.format("  %s NEP: %s line %d", where, verb, edit.line), "NepJump" } },
      virt_text_pos = "eol",
    })
  end
end

-- Point from the cursor line of `buf` to `edit` in another file: where it goes and its first line.
function M.show_elsewhere(buf, edit, cursor_line)
  M.clear(buf)
  local first = edit.insert[1] and "  " .. vim.trim(edit.insert[1]):sub(1, 60) or ""
  local verb = edit.jump_only and "jump to" or (#edit.insert == 0 and "delete" or (edit.delete > 0 and "edit" or "insert"))
  vim.api.nvim_buf_set_extmark(buf, M.namespace, cursor_line - 1, 0, {
    virt_text = { { string.format("  → NEP: %s %s:%d%s", verb, edit.file, edit.line, first), "NepJump" } },
    virt_text_pos = "eol",
  })
end

return M
