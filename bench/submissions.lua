-- wrk script for the kiosk submission endpoint (POST /api/kiosk/submissions).
--
-- Read from the environment (set by bench/submissions.py):
--   BENCH_PORT        port of the project's gunicorn (wrk connects to 127.0.0.1)
--   BENCH_HOST        tenant host, default "bench.localhost"; sent as Host: <host>:<port>
--   BENCH_TOKEN       device token, sent as "Authorization: Device <token>"
--   BENCH_FORM_VERSION  id of the published FormVersion
--   BENCH_SALT        8 hex digits, different for every wrk run, so ids never repeat
--   BENCH_MAX_BAD     allowed share of non-201 answers (default 0.01)
--   BENCH_SPREAD      if set, a count of tenants: each request goes to one drawn at random,
--                     host <BENCH_HOST_PREFIX><i>.localhost with token <BENCH_TOKEN_PREFIX><i>
--
-- Every request carries a new v4-looking UUID (salt, thread number, counter, random bits), so
-- each one is a new sign-up answered 201; a repeated id would be answered 200 (duplicate).
-- Non-201 answers are counted per thread and reported in done(); above BENCH_MAX_BAD the script
-- prints FAIL and exits 1.

local port = os.getenv("BENCH_PORT") or "8000"
local host = os.getenv("BENCH_HOST") or "bench.localhost"
local token = os.getenv("BENCH_TOKEN") or ""
local form_version = tonumber(os.getenv("BENCH_FORM_VERSION") or "0")
local salt = os.getenv("BENCH_SALT") or "00000000"
local max_bad = tonumber(os.getenv("BENCH_MAX_BAD") or "0.01")
local spread = tonumber(os.getenv("BENCH_SPREAD") or "0")
local host_prefix = os.getenv("BENCH_HOST_PREFIX") or "spread"
local token_prefix = os.getenv("BENCH_TOKEN_PREFIX") or ""

wrk.method = "POST"
wrk.path = "/api/kiosk/submissions"
wrk.headers["Host"] = host .. ":" .. port
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Device " .. token

-- main state: the threads, to collect their counters in done()
local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
  table.insert(threads, thread)
end

-- thread state
tid = 0
counter = 0
responses = 0
bad = 0
last_bad_status = 0
last_bad_body = ""

function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919 + tonumber(salt:sub(1, 6), 16))
end

local function uuid4()
  return string.format(
    "%s-%04x-4%03x-%04x-%012x",
    salt,
    tid,
    math.random(0, 0xfff),
    0x8000 + math.random(0, 0x3fff),
    counter
  )
end

function request()
  counter = counter + 1
  local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local body = string.format(
    '{"id":"%s","form_version":%d,"locale":"en","captured_at":"%s",'
      .. '"answers":{"email":"shopper%d%07d@example.com","first_name":"Ann"},'
      .. '"consents":{"email":true}}',
    uuid4(), form_version, now, tid, counter
  )
  if spread > 0 then
    local shop = math.random(0, spread - 1)
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Host"] = host_prefix .. shop .. ".localhost:" .. port
    headers["Authorization"] = "Device " .. token_prefix .. shop
    return wrk.format(nil, nil, headers, body)
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 201 then
    bad = bad + 1
    last_bad_status = status
    last_bad_body = string.sub(body or "", 1, 300)
  end
end

function done(summary, latency, requests)
  local total, non201 = 0, 0
  local sample_status, sample_body = 0, ""
  for _, thread in ipairs(threads) do
    total = total + thread:get("responses")
    local b = thread:get("bad")
    non201 = non201 + b
    if b > 0 then
      sample_status = thread:get("last_bad_status")
      sample_body = thread:get("last_bad_body")
    end
  end
  local share = 0
  if total > 0 then share = non201 / total end
  io.write(string.format("responses: %d\n", total))
  io.write(string.format("non_201: %d (%.3f%%)\n", non201, share * 100))
  if non201 > 0 then
    io.write(string.format("last non-201: %d %s\n", sample_status, sample_body))
  end
  if total == 0 or share > max_bad then
    io.write(string.format(
      "FAIL: %d of %d responses were not 201 (more than %.1f%%)\n", non201, total, max_bad * 100
    ))
    io.stdout:flush()
    os.exit(1)
  end
end
