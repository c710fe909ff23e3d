-- The wrk script of every run. wrk.rs puts these locals before it:
--   method    POST, or GET (then no body and no Content-Type)
--   path      the path of every request
--   authorization  nil, or the Authorization header of every request
--   form      the form body, or its start when `input` adds a line per request
--   input     nil, or a file of inputs, one appended to `form` per request
--   chain     refresh chains: `input` holds refresh tokens, and each answer's
--             refresh token is used next
--   proofs    `input` holds DPoP proofs: each line is the next request's DPoP
--             header, and `form` is the body as it is
--   expect    nil, or `"error":"<code>"`: every answer must be a 400 with it
--   tokens    nil, or the file where the access token of every 200 goes
--   out       the file done() writes (the chains' last refresh tokens)
-- It counts non-200 answers (with `expect`, answers other than that error)
-- and prints one RESULT line for wrk.rs.

headers = {}
if method ~= "GET" then headers["Content-Type"] = "application/x-www-form-urlencoded" end
if authorization then headers["Authorization"] = authorization end
local body = nil
if method ~= "GET" then body = form end

if input and chain then
  -- Chains live in a small table; other inputs are read a line per
  -- request, so that no table of a million strings sits in wrk's heap.
  queue = {}
  for line in io.lines(input) do queue[#queue + 1] = line end
  function request()
    local item = table.remove(queue) or "exhausted.exhausted"
    return wrk.format("POST", path, headers, form .. item)
  end
elseif input then
  local lines = io.open(input)
  function request()
    local item = lines:read("*l") or "exhausted.exhausted"
    if proofs then
      headers["DPoP"] = item
      return wrk.format(method, path, headers, body)
    end
    return wrk.format(method, path, headers, form .. item)
  end
else
  function request() return wrk.format(method, path, headers, body) end
end

errors = 0
-- Tokens go to a file as they come (wrk runs one thread, -t1; the C library
-- flushes the file when wrk exits). Kept in a Lua table, they made the
-- garbage collector pause wrk long enough to multiply the measured p99.
local tokens_file
function response(status, hdrs, body)
  if expect then
    if status ~= 400 or not body:find(expect, 1, true) then errors = errors + 1 end
    return
  end
  if status ~= 200 then
    errors = errors + 1
    return
  end
  if tokens then
    local t = body:match('"access_token":"([^"]+)"')
    if t then
      tokens_file = tokens_file or io.open(tokens, "w")
      tokens_file:write("A ", t, "\n")
    end
  end
  if chain then
    local r = body:match('"refresh_token":"([^"]+)"'); if r then table.insert(queue, r) end
  end
end

local threads = {}
function setup(thread) threads[#threads + 1] = thread end

function done(summary, latency, requests)
  local errs = 0
  local f = io.open(out, "w")
  for _, thread in ipairs(threads) do
    errs = errs + thread:get("errors")
    if chain then
      for _, r in ipairs(thread:get("queue") or {}) do f:write("R ", r, "\n") end
    end
  end
  f:close()
  local e = summary.errors
  errs = errs + e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), errs))
end
