-- Settings of the NEP Neovim client: defaults, merged with what require("nep").setup{} is given.
local M = {}

M.defaults = {
  server = "http://127.0.0.1:8765", -- where `nep serve --domain code` listens (http only, loopback by default)
  token = nil, -- bearer token; default: $NEP_SERVER_TOKEN
  log_dir = nil, -- session logs; default: $NEP_HOME/logs/code, else ~/.cache/nep/logs/code
  record = true, -- write session logs
  suggest = true, -- ask the server for suggestions
  debounce_ms = 300, -- ask this long after the last change
  merge_ms = 1000, -- changes to the same lines closer than this become one logged edit
  timeout_ms = 2000, -- give up on a request after this long
  top_k = 1, -- suggestions asked for; the best usable one is shown (more make the server slower; 1 as in Krita)
  min_confidence = 0.1, -- suggestions the model gives a lower probability are not shown (as in Blender and Krita)
  max_history_events = 64, -- events sent with a request (older ones are folded into a snapshot)
  max_file_bytes = 1000000, -- larger files are neither recorded nor sent (below max_request_bytes; one whose JSON, escapes counted, is still over it is not asked about)
  max_request_bytes = 1048576, -- the largest request sent: nep serve's --max-body-bytes default (413 above it)
  context_files = 8, -- other open files sent with a request (where a rename is carried next), as max_request_bytes allows
  exclude_filetypes = { "help", "gitcommit", "gitrebase", "qf", "netrw", "TelescopePrompt", "NvimTree" },
  -- files that may hold secrets, never recorded nor sent: globs of the file name, lower-cased (nep_code/private_files.py)
  private_files = { ".env", ".env.*", ".envrc", ".dev.vars", "*.pem", "*.key", "*.crt", "*.cert", "*.p12", "*.pfx", "*.jks", "*.keystore", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".netrc", ".pgpass", ".pypirc", ".npmrc", "secrets.yml", "secrets.yaml", "secrets.json", "credentials", "credentials.json", "*.tfvars", "*.tfstate" },
  jump_first = true, -- an edit away from the cursor: the accept key first jumps there, then accepts
  feedback_history = false, -- also send the session's events to the server with each feedback
  keys = { accept = "<Tab>", dismiss = "<C-]>" }, -- false disables a mapping
}

M.options = vim.deepcopy(M.defaults)

local function merge(into, from)
  for key, value in pairs(from or {}) do
    if type(value) == "table" and type(into[key]) == "table" and not vim.tbl_islist(value) then
      merge(into[key], value)
    else
      into[key] = value
    end
  end
  return into
end

function M.setup(options)
  M.options = merge(vim.deepcopy(M.defaults), options)
  return M.options
end

function M.nep_home()
  local home = os.getenv("NEP_HOME")
  if home and home ~= "" then
    return home
  end
  return (os.getenv("HOME") or ".") .. "/.cache/nep"
end

function M.log_dir()
  return M.options.log_dir or (M.nep_home() .. "/logs/code")
end

function M.token()
  local token = M.options.token or os.getenv("NEP_SERVER_TOKEN")
  if token == "" then
    return nil
  end
  return token
end

return M
