-- GET wrk's URL, with `Authorization: Bearer $BENCH_BEARER` when that is set.
-- $BENCH_DELAY_MS (optional) pauses each connection that long between requests, so that a
-- probe can run at a modest rate beside other load instead of saturating the CPU itself.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local stats = require("stats")

local bearer = os.getenv("BENCH_BEARER")
if bearer and bearer ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. bearer
end
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "")

setup = stats.setup
done = stats.done
if pause and pause > 0 then
  delay = function() return pause end
end
