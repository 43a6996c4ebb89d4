-- wrk script for scripts/bench.sh: POST one fixed JSON event to eventward.
--
--   BENCH_KEY=evw_... BENCH_BODY_FILE=bench/body.json BENCH_LABEL=accepted \
--     wrk -t2 -c64 -d20s --latency -s bench/post.lua \
--     http://127.0.0.1:18089/v1/events/bench/ingest
--
-- done() prints one JSON line (after wrk's own report) starting with
-- "BENCH_RESULT ", with every latency in milliseconds:
--   rate      responses/s, any status
--   ok_rate   2xx/3xx responses/s
--   non2xx    responses with another status (the refusals, in a refusal run)
-- wrk measures latency from send to response per connection (closed loop),
-- so it under-reports tail latency under overload (coordinated omission).

local key = os.getenv("BENCH_KEY")
if key == nil or key == "" then
  error("set BENCH_KEY to the API key to send")
end
local body_file = os.getenv("BENCH_BODY_FILE") or "bench/body.json"
local f = assert(io.open(body_file, "rb"))
local body = f:read("*a"):gsub("%s+$", "")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local ok = summary.requests - e.status
  local function ms(us) return us / 1000.0 end
  io.write(string.format(
    'BENCH_RESULT {"label":"%s","rate":%.1f,"ok_rate":%.1f,"requests":%d,"ok":%d,"non2xx":%d,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,"seconds":%.3f,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
    os.getenv("BENCH_LABEL") or "", summary.requests / secs, ok / secs, summary.requests, ok, e.status,
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency.max), ms(latency.mean), secs,
    e.connect, e.read, e.write, e.timeout))
end
