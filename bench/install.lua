-- One new install per request, from a device of its own (IP from the counter), so every
-- install runs the whole attribution: no click id, no referrer, a probabilistic probe.
math.randomseed(os.time())
local run = tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_SECRET")
local path = "/api/v1/apps/" .. os.getenv("BENCH_APP_ID") .. "/installs"
request = function()
  n = n + 1
  local ip = "10." .. (math.floor(n / 65536) % 256) .. "." .. (math.floor(n / 256) % 256)
    .. "." .. (n % 256)
  local body = '{"event_id":"i-' .. run .. '-' .. n .. '","device":{"os":"ios","os_version":"17.4","ip":"'
    .. ip .. '","idfv":"' .. run .. '-' .. n .. '"}}'
  return wrk.format(nil, path, nil, body)
end
