-- Shared by the wrk scripts: per-thread status counts and a JSON summary written by done()
-- to the file named by $BENCH_OUT (one object), so bench/report.py can read every phase.
local M = {}

local threads = {}
local next_id = 0

-- Call from setup(thread); gives each thread an id (0-based) and its thread count.
function M.setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
  for _, t in ipairs(threads) do
    t:set("thread_count", next_id)
  end
end

-- The statuses a phase can meet, each counted in a plain number per thread: wrk copies
-- tables between threads unreliably (it crashed with 16 threads), numbers it copies safely.
local KNOWN = {200, 201, 400, 401, 403, 404, 409, 429, 500, 502, 503}

-- Per-thread state; call from init().
function M.init()
  for _, code in ipairs(KNOWN) do
    _G["status_" .. code] = 0
  end
  status_other = 0
end

function M.count(status)
  local name = "status_" .. status
  if _G[name] then
    _G[name] = _G[name] + 1
  else
    status_other = status_other + 1
  end
end

local function json_escape(s)
  return (tostring(s):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end))
end

function M.done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    for _, code in ipairs(KNOWN) do
      local n = t:get("status_" .. code) or 0
      if n > 0 then counts[code] = (counts[code] or 0) + n end
    end
    local other = t:get("status_other") or 0
    if other > 0 then counts["other"] = (counts["other"] or 0) + other end
  end
  local parts = {}
  for k, v in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', json_escape(k), v))
  end
  local e = summary.errors
  local out = string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p99": %d, "p999": %d}, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    table.concat(parts, ", "))
  local path = os.getenv("BENCH_OUT")
  if path and path ~= "" then
    local f = assert(io.open(path, "w"))
    f:write(out)
    f:close()
  else
    io.write(out)
  end
end

return M
