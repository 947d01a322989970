-- POST /auth/oauth/token grant_type=password with correct passwords only, cycling through
-- $BENCH_USERS users named $BENCH_USER_PREFIX01.. so that consecutive requests of a thread
-- use different identities. Every answer's status is counted (a 429 would show up there).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local stats = require("stats")

local basic = "Basic " .. os.getenv("BENCH_BASIC")
local nusers = tonumber(os.getenv("BENCH_USERS"))
local prefix = os.getenv("BENCH_USER_PREFIX")
local password = os.getenv("BENCH_PASSWORD")

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

setup = stats.setup

function init(args)
  stats.init()
  bodies = {}
  for i = 1, nusers do
    bodies[i] = "grant_type=password&username=" .. urlencode(string.format("%s%02d", prefix, i)) ..
      "&password=" .. urlencode(password)
  end
  n = 0
end

function request()
  local i = ((thread_id or 0) + n * (thread_count or 1)) % nusers + 1
  n = n + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = basic,
  }, bodies[i])
end

function response(status, headers, body)
  stats.count(status)
end

done = stats.done
