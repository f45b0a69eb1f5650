-- wrk script: each request verifies a different challenge with its right code, so every
-- request does the full work of a successful sign-in (count, compare, verify, user, tokens).
-- Pairs come from bench/prepare.py; threads take disjoint slices.
local pairs_file = os.getenv("AUTHKIT_BENCH_PAIRS")
local key = os.getenv("AUTHKIT_BENCH_KEY")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  challenge_pairs = {}
  for line in io.lines(pairs_file) do
    local id, code = line:match("^(%S+) (%S+)$")
    table.insert(challenge_pairs, {id, code})
  end
  nthreads = tonumber(os.getenv("AUTHKIT_BENCH_THREADS") or "2")
  index = id + 1
  ok, failed = 0, 0
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  wrk.headers["x-api-key"] = key
end

function request()
  local pair = challenge_pairs[index]
  if pair == nil then
    -- Out of fresh challenges: keep the connection busy with a request that is counted
    -- as failed rather than silently re-verifying.
    pair = {"ch_00000000000000000000000000000000", "000000"}
  end
  index = index + nthreads
  return wrk.format(nil, "/v1/auth/verify", nil, '{"challenge_id":"' .. pair[1] .. '","code":"' .. pair[2] .. '"}')
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
  local ok_total, failed_total = 0, 0
  for _, thread in ipairs(threads) do
    ok_total = ok_total + thread:get("ok")
    failed_total = failed_total + thread:get("failed")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("verify: %d signed in (200), %d other; %.0f sign-ins/s\n", ok_total, failed_total, ok_total / seconds))
  io.write(string.format("latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
