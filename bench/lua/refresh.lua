-- POST /auth/oauth/token grant_type=refresh_token along rotating chains. Run it with as many
-- threads as connections (-tN -cN): each thread then has one connection and one chain, which
-- starts at line `thread_id + 1` of $BENCH_TOKENS (refresh tokens from separate password
-- logins) and always sends the newest token of its chain, taken from the previous answer.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local stats = require("stats")

local basic = "Basic " .. os.getenv("BENCH_BASIC")
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  if line ~= "" then table.insert(tokens, line) end
end

setup = stats.setup

function init(args)
  stats.init()
  token = tokens[(thread_id or 0) + 1]
  assert(token, "not enough refresh tokens for the threads")
  broken = 0
end

function request()
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = basic,
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  stats.count(status)
  if status == 200 then
    local t = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if t then token = t else broken = broken + 1 end
  end
end

done = stats.done
