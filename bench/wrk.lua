-- wrk script of bench/run (the peer's, without ids): WRK_PATH, WRK_COOKIE; prints one RESULT line.
local path = os.getenv("WRK_PATH") or "/"
wrk.method = "GET"
wrk.headers["Cookie"] = os.getenv("WRK_COOKIE")
if string.find(path, "/api/", 1, true) then wrk.headers["Accept"] = "application/json" end

function request()
  return wrk.format(nil, path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_ms=%.1f p95_ms=%.1f requests=%d errors=%d bad_status=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, summary.requests,
    e.connect + e.read + e.write + e.timeout, e.status))
end
