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

-- Per-thread state; call from init().
function M.init()
  statuses = {}
end

function M.count(status)
  statuses[status] = (statuses[status] or 0) + 1
end

local function json_escape(s)
  return (tostring(s):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end))
end

function M.done(summary, latency, requests)
  local counts = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for k, v in pairs(s) do
        counts[k] = (counts[k] or 0) + v
      end
    end
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
