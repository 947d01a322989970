-- POST /auth/oauth/token grant_type=client_credentials, client authentication by HTTP Basic
-- ($BENCH_BASIC is the base64 of "id:secret"). The request is the same every time, so wrk
-- sends it pre-built; non-2xx answers are counted by wrk itself (errors.status).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local stats = require("stats")

wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")

setup = stats.setup
done = stats.done
