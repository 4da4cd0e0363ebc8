-- wrk script: flowbot chat turns over a pool of prepared conversations.
--
--   FLOWBOT_CONVS  file written by `flowbot-load prepare -out FILE` (required):
--                  "# path ...", "# body ...", "# want ..." header lines, then
--                  one "<conversation id> <token>" line per conversation
--   FLOWBOT_POOL   use only the first N conversations (default: all of them);
--                  keep it well above wrk's -c (bench/run.sh: max(1024, 4*c)), and
--                  each conversation under 1,000 turns in all (flowbot ends it then)
--   FLOWBOT_WANT   overrides the file's success text (for checking the check)
--
-- init() formats one request per conversation once:
--   POST /v1/conversations/<id>/messages
--   Authorization: Bearer <token>, Content-Type: application/json, body {"text":"42"}
-- and request() hands them out round-robin, so the requests in flight at any
-- moment go to different conversations (flowbot serialises the turns of one
-- conversation; a collision would only wait, it is not an error).
--
-- A reply is good only if its status is 200 and its body contains the success
-- text; everything else counts as bad (that includes non-2xx answers).
-- Run with -t1 (the counters are per thread and summed in done()).
-- At the end prints one line, the peers' turn.lua RESULT line plus two fields:
--   RESULT rps=<req/s> p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. requests=<n> non2xx=<n> errors=<n> good=<n> bad=<n>

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local i = 0
local want = nil
good = 0
bad = 0
sample = nil -- the first bad reply, shortened

function init(args)
  local path = os.getenv("FLOWBOT_CONVS")
  if path == nil or path == "" then
    error("FLOWBOT_CONVS must name the file written by flowbot-load prepare")
  end
  local f = assert(io.open(path, "r"))
  local pool = tonumber(os.getenv("FLOWBOT_POOL") or "") or 0
  local tmpl, body = nil, nil
  local convs = {}
  for line in f:lines() do
    local k, v = line:match("^# (%a+) (.*)$")
    if k == "path" then
      tmpl = v
    elseif k == "body" then
      body = v
    elseif k == "want" then
      want = v
    elseif line:sub(1, 1) ~= "#" then
      local id, tok = line:match("^(%S+)%s+(%S+)%s*$")
      if id and (pool <= 0 or #convs < pool) then
        table.insert(convs, { id, tok })
      end
    end
  end
  f:close()
  local w = os.getenv("FLOWBOT_WANT")
  if w ~= nil and w ~= "" then
    want = w
  end
  assert(tmpl and body and want, path .. ": missing # path / # body / # want header")
  assert(#convs > 0, path .. ": no conversations")
  for _, c in ipairs(convs) do
    local p = tmpl:gsub("{id}", function() return c[1] end)
    local headers = {
      ["Host"] = wrk.headers["Host"],
      ["Authorization"] = "Bearer " .. c[2],
      ["Content-Type"] = "application/json",
    }
    n = n + 1
    reqs[n] = wrk.format("POST", p, headers, body)
  end
end

function request()
  i = i + 1
  if i > n then
    i = 1
  end
  return reqs[i]
end

function response(status, headers, body)
  if status == 200 and body and body:find(want, 1, true) then
    good = good + 1
  else
    bad = bad + 1
    if sample == nil then
      sample = tostring(status) .. " " .. string.sub(body or "", 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do
    g = g + (t:get("good") or 0)
    b = b + (t:get("bad") or 0)
    local s = t:get("sample")
    if s ~= nil then
      io.stderr:write("first bad reply: " .. s .. "\n")
    end
  end
  local secs = summary.duration / 1e6
  local errs = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f requests=%d non2xx=%d errors=%d good=%d bad=%d\n",
    summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.requests, summary.errors.status, errs, g, b))
end
