-- wrk script: a fixed request rate over keep-alive connections, authenticated, rotating query shapes.
--
-- Debian's wrk 4.1 has no rate option (wrk2's -R), so each connection keeps its own schedule: with C connections
-- and a total rate R, connection k sends its n-th request at start + (n * C + k) / R and delay() waits until then
-- (a late request goes out at once: the schedule is absolute, lateness is recorded, not forgiven).
-- Run with as many threads as connections (-t C -c C): response() then pairs with the request() before it, so
-- the script can time every request itself (CLOCK_MONOTONIC through LuaJIT's ffi) and name its shape.
--
-- Environment: PVF_TOKEN (session token), PVF_SHAPES (file: "name<TAB>path" per line), PVF_RATE (req/s, total),
-- PVF_CONNECTIONS (C), PVF_OUT (file written by done(): one "shape<TAB>latency_us<TAB>late_us<TAB>status" line
-- per request, then wrk's own summary).
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } pvf_timespec;
  int clock_gettime(int clk_id, pvf_timespec *tp);
]]
local ts = ffi.new("pvf_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local function read_shapes()
  local shapes = {}
  for line in io.lines(os.getenv("PVF_SHAPES")) do
    local name, path = line:match("^([^\t]+)\t(.+)$")
    if name then shapes[#shapes + 1] = { name = name, path = path } end
  end
  return shapes
end

local threads = {}
local counter = 0
function setup(thread)
  thread:set("k", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

-- per thread (one connection each)
local shapes, headers, interval_us, start_us, conns
local n = 0         -- requests sent
local sent_at, due_at, shape_of = 0, 0, nil
log = {}            -- "shape\tlatency_us\tlate_us\tstatus" per request, collected by done()

function init(args)
  shapes = read_shapes()
  headers = { ["Authorization"] = "Bearer " .. os.getenv("PVF_TOKEN") }
  local rate = tonumber(os.getenv("PVF_RATE"))
  conns = tonumber(os.getenv("PVF_CONNECTIONS"))
  interval_us = conns / rate * 1e6
  -- the first request goes out at connect; the schedule starts there, offset by k / R per connection
  start_us = now_us() + k / rate * 1e6
end

local function due(i)
  return start_us + i * interval_us
end

function delay()
  local wait_ms = (due(n) - now_us()) / 1000
  if wait_ms < 1 then return 0 end
  return math.floor(wait_ms)
end

function request()
  local idx = (n * conns + k) % #shapes + 1
  shape_of = shapes[idx].name
  sent_at = now_us()
  due_at = n == 0 and sent_at or due(n)
  n = n + 1
  return wrk.format("GET", shapes[idx].path, headers)
end

function response(status, hdrs, body)
  local t = now_us()
  local late = sent_at - due_at
  if late < 0 then late = 0 end
  log[#log + 1] = string.format("%s\t%.0f\t%.0f\t%d", shape_of, t - sent_at, late, status)
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("PVF_OUT"), "w"))
  for _, thread in ipairs(threads) do
    local l = thread:get("log")
    for i = 1, #l do out:write(l[i], "\n") end
  end
  out:write(string.format("#wrk\trequests=%d\tduration_us=%d\terrors=%d\tp50_us=%d\tp99_us=%d\tmax_us=%d\n",
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
    summary.errors.timeout, latency:percentile(50), latency:percentile(99), latency.max))
  out:close()
end
