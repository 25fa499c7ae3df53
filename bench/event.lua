-- One unique event per request (wrk's per-thread counter + a run id). The run id comes from
-- the clock: Lua's generator is unseeded, so math.random alone repeats across wrk runs and
-- every run after the first would measure replays.
math.randomseed(os.time())
local run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_SECRET")
request = function()
  n = n + 1
  local body = '{"event_id":"b-' .. run .. '-' .. n .. '","type":"open"}'
  return wrk.format(nil, "/api/v1/events", nil, body)
end
