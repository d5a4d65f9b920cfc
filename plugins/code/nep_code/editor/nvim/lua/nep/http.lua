-- A minimal asynchronous HTTP/1.1 client on libuv TCP, for JSON requests to `nep serve`.
-- request() returns at once; the callback runs later on the main loop (vim.schedule) with
-- (err, response) where response = {status = 200, body = "..."}.
local uv = vim.loop
local M = {}

M.MAX_ANSWER_BYTES = 4 * 1024 * 1024
M.ANSWER_TOO_LARGE = "the answer is over 4 MiB" -- the error for an answer over MAX_ANSWER_BYTES
M.MALFORMED = "malformed HTTP response"
M.WAITING = "waiting for the answer" -- ends the error of a request that timed out once connected

-- Whether `err` says the server took the request and did not answer in time (it runs, slowly),
-- rather than that nothing could be reached.
function M.is_slow(err)
  return type(err) == "string" and err:find("^timed out") ~= nil and err:sub(-#M.WAITING) == M.WAITING
end

-- "http://host:port" -> host, port; nil and a reason for anything else.
function M.parse_url(url)
  local host, port = tostring(url):match("^http://%[?([^/%]]+)%]?:(%d+)/?$")
  if not host then
    host = tostring(url):match("^http://([^/:]+)/?$")
    port = host and "80"
  end
  if not host then
    return nil, "server must look like http://127.0.0.1:8765, got " .. tostring(url)
  end
  return host, tonumber(port)
end

local resolved = {}

local function resolve(host, callback)
  if host:match("^%d+%.%d+%.%d+%.%d+$") or host:find(":") then
    return callback(nil, host)
  end
  if host == "localhost" then
    return callback(nil, "127.0.0.1")
  end
  if resolved[host] then
    return callback(nil, resolved[host])
  end
  uv.getaddrinfo(host, nil, { socktype = "stream" }, function(err, addresses)
    if err or not addresses or not addresses[1] then
      return callback(err or ("cannot resolve " .. host))
    end
    resolved[host] = addresses[1].addr
    callback(nil, addresses[1].addr)
  end)
end

local function decode_chunked(body)
  local out, position = {}, 1
  while true do
    local size_end = body:find("\r\n", position, true)
    if not size_end then
      return nil
    end
    local digits = body:sub(position, size_end - 1):match("^%x+")
    local size = digits and tonumber(digits, 16)
    if not size then
      return nil, "a chunk size that is not hexadecimal"
    end
    if size == 0 then
      return table.concat(out)
    end
    out[#out + 1] = body:sub(size_end + 2, size_end + 1 + size)
    position = size_end + 2 + size + 2
  end
end

-- The parsed response once `raw` holds all of it, else nil.
local function parse_response(raw, finished)
  local head_end = raw:find("\r\n\r\n", 1, true)
  if not head_end then
    return nil
  end
  local head = raw:sub(1, head_end - 1)
  local status = tonumber(head:match("^HTTP/%d%.%d (%d%d%d)"))
  local body = raw:sub(head_end + 4)
  local length = tonumber(head:lower():match("\r\ncontent%-length:%s*(%d+)"))
  if length then
    if #body < length then
      return nil
    end
    return { status = status, body = body:sub(1, length) }
  end
  if head:lower():find("\r\ntransfer%-encoding:%s*chunked") then
    local decoded, malformed = decode_chunked(body)
    if decoded then
      return { status = status, body = decoded }
    end
    return nil, malformed
  end
  if finished then
    return { status = status, body = body }
  end
  return nil
end

-- POST `body` (a string) to `path` on `url`. options: timeout_ms, headers (table).
function M.post(url, path, body, options, callback)
  options = options or {}
  local host, port = M.parse_url(url)
  local done, connected = false, false
  local tcp, timer
  local function finish(err, response)
    if done then
      return
    end
    done = true
    if timer and not timer:is_closing() then
      timer:stop()
      timer:close()
    end
    if tcp and not tcp:is_closing() then
      tcp:close()
    end
    vim.schedule(function()
      callback(err, response)
    end)
  end
  if not host then
    return finish(port)
  end
  timer = uv.new_timer()
  timer:start(options.timeout_ms or 2000, 0, function()
    finish(string.format("timed out after %s ms %s", tostring(options.timeout_ms or 2000),
      connected and M.WAITING or "connecting"))
  end)
  resolve(host, function(err, address)
    if err then
      return finish(err)
    end
    if done then
      return
    end
    tcp = uv.new_tcp()
    local host_header = host:find(":") and ("[" .. host .. "]:" .. port) or (host .. ":" .. port)
    local lines = {
      "POST " .. path .. " HTTP/1.1",
      "Host: " .. host_header,
      "Content-Type: application/json",
      "Accept: application/json",
      "Connection: close",
      "Content-Length: " .. #body,
    }
    for name, value in pairs(options.headers or {}) do
      lines[#lines + 1] = name .. ": " .. value
    end
    local request = table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
    local started, start_err = tcp:connect(address, port, function(connect_err)
      if connect_err then
        return finish(connect_err)
      end
      connected = true
      local chunks, received = {}, 0
      tcp:write(request)
      tcp:read_start(function(read_err, data)
        if read_err then
          return finish(read_err)
        end
        if data then
          chunks[#chunks + 1] = data
          received = received + #data
          if received > M.MAX_ANSWER_BYTES then -- as the Python client: a larger answer is not a suggestion
            return finish(M.ANSWER_TOO_LARGE)
          end
        end
        if data == nil and received == 0 then
          return finish("the connection closed without an answer")
        end
        -- an error here would be lost in libuv's callback and leave the request waiting for its timeout
        local ok, response, malformed = pcall(parse_response, table.concat(chunks), data == nil)
        if not ok then
          finish(M.MALFORMED .. " (" .. tostring(response) .. ")")
        elseif response then
          finish(nil, response)
        elseif data == nil or malformed then -- a chunk size that is not one: no more data mends it
          finish(M.MALFORMED .. (malformed and " (" .. malformed .. ")" or ""))
        end
      end)
    end)
    if not started then
      finish(start_err)
    end
  end)
end

return M
