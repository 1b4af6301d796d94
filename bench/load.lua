-- wrk's script for bench/run.py: args are a run id, the API key, the scenario's kind, then
-- ids (of coupons for "get", of the report's campaign for "report"). SPREAD and the
-- bodies' patterns are filled in by bench/run.py (bench/scenarios.py builds the bodies).
local paths, n, threads, held, all = {}, 0, 0, {}, {}
ok, exhausted, other = 0, 0, 0
function setup(thread) threads = threads + 1; thread:set("tid", threads); all[#all + 1] = thread end
function init(args)
  run = args[1]; wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
  for i = 3, #args do paths[#paths + 1] = args[i] end
  kind = paths[1]
end
function request()
  n = n + 1
  if kind == "hold" then
    -- A hold answered on any of this thread's connections is confirmed by the next request.
    local id = table.remove(held)
    if id then return wrk.format("POST", "/v1/reservations/" .. id .. "/confirm/", nil, "{}") end
    return wrk.format("POST", "/v1/reservations/", nil,
      string.format('{"code":"spread-%05d","ttl_seconds":600}', math.random(1, SPREAD)))
  elseif kind == "create" then
    return wrk.format("POST", "/v1/coupons/", nil,
      '{"code":"B' .. run .. '-' .. tid .. '-' .. n .. '","init_count":100}')
  elseif kind == "hot" then
    return wrk.format("POST", "/v1/redemptions/", nil, '{"code":"hot"}')
  elseif kind == "hot-off" then
    return wrk.format("POST", "/v1/redemptions/", nil, string.format(
      '{"code":"hot-off","order":{"amount":%d,"currency":"EUR"}}', math.random(2000, 100000)))
  elseif kind == "spread" then
    return wrk.format("POST", "/v1/redemptions/", nil,
      string.format('{"code":"spread-%05d"}', math.random(1, SPREAD)))
  elseif kind == "campaign" then
    return wrk.format("POST", "/v1/redemptions/", nil,
      string.format('{"code":"camp-%05d"}', math.random(1, SPREAD)))
  elseif kind == "validate" then
    return wrk.format("POST", "/v1/validations/", nil,
      string.format('{"code":"spread-%05d"}', math.random(1, SPREAD)))
  elseif kind == "cart-validate" then
    return wrk.format("POST", "/v1/validations/", nil,
      string.format(CART_VALIDATE_BODY, math.random(1, SPREAD)))
  elseif kind == "cart-redeem" then
    return wrk.format("POST", "/v1/redemptions/", nil,
      string.format(CART_REDEEM_BODY, math.random(1, SPREAD)))
  elseif kind == "group" then
    local code = math.random(1, SPREAD)
    return wrk.format("POST", "/v1/redemption-groups/", nil, string.format(GROUP_BODY, code, code))
  elseif kind == "flash" then
    -- Every request its own key: a shopper's one attempt (a headers table replaces wrk's).
    local headers = {["Idempotency-Key"] = "flash-" .. run .. "-" .. tid .. "-" .. n}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    return wrk.format("POST", "/v1/redemptions/", headers, FLASH_BODY)
  elseif kind == "report" then
    return wrk.format("GET", "/v1/campaigns/" .. paths[2] .. "/report/")
  elseif kind == "list" then
    return wrk.format("GET", "/v1/coupons/?page_size=50")
  else
    return wrk.format("GET", "/v1/coupons/" .. paths[(n % (#paths - 1)) + 2] .. "/")
  end
end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1
  elseif status == 409 and body:find('"coupon_exhausted"', 1, true) then
    exhausted = exhausted + 1
    -- The sale is over: this thread stops (bench/run.py counts the sold rows in the DB).
    if kind == "flash" then wrk.thread:stop() end
  else
    other = other + 1
    if other <= 3 then io.stderr:write(string.format("answer %d: %s\n", status, body:sub(1, 300))) end
  end
  if kind == "hold" and status == 201 and body:find('"status"%s*:%s*"held"') then
    held[#held + 1] = body:match('^{%s*"id"%s*:%s*"([%x%-]+)"')
  end
end
function done(summary, latency, requests)
  local t_ok, t_exhausted, t_other = 0, 0, 0
  for _, thread in ipairs(all) do
    t_ok = t_ok + thread:get("ok"); t_exhausted = t_exhausted + thread:get("exhausted")
    t_other = t_other + thread:get("other")
  end
  io.write(string.format('RESULT {"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "status_errors": %d, "socket_errors": %d, "timeouts": %d, "ok": %d, "exhausted": %d, "other": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.timeout, t_ok, t_exhausted, t_other))
end
