-- NEP next-edit suggestions: commands. Nothing runs until require("nep").setup{} or :NepEnable.
if vim.g.loaded_nep then
  return
end
vim.g.loaded_nep = true

vim.api.nvim_create_user_command("NepEnable", function()
  require("nep").enable()
end, { desc = "NEP: record edits and show suggestions" })
vim.api.nvim_create_user_command("NepDisable", function()
  require("nep").disable()
end, { desc = "NEP: stop recording and suggesting" })
vim.api.nvim_create_user_command("NepStatus", function()
  print(require("nep").status())
end, { desc = "NEP: server, session log and counts" })
vim.api.nvim_create_user_command("NepSuggest", function()
  require("nep").request()
end, { desc = "NEP: ask for a suggestion now" })
