-- Whether a client address may try a password on a username now, judged
-- by failures only (attempts are limited elsewhere). Reads; writes nothing.
-- Both counters are GCRA arrival times (see rate_limit.lua), advanced by
-- login_failure.lua after each failed password.
-- KEYS[1] failures on the username from this address,
-- KEYS[2] failures on the username from all addresses (same slot)
-- ARGV[1] per-address interval (ms), ARGV[2] per-address burst,
-- ARGV[3] per-username interval (ms), ARGV[4] per-username burst
-- Returns 0 when this address has no failures on the username (it may try,
-- whatever others did), -1 when it has some but may still try, otherwise the
-- ms until it may.
local now = now_ms()
local mine = tonumber(redis.call('GET', KEYS[1]) or 0)
if mine <= now then
  return 0
end
local wait = 0
local ahead = mine - now
local tolerance = tonumber(ARGV[1]) * (tonumber(ARGV[2]) - 1)
if ahead > tolerance then
  wait = ahead - tolerance
end
-- The username's ceiling binds only addresses with failures of their own:
-- until it has room again, or this address's failures are forgotten.
local all = tonumber(redis.call('GET', KEYS[2]) or 0)
local all_ahead = all - now
local all_tolerance = tonumber(ARGV[3]) * (tonumber(ARGV[4]) - 1)
if all_ahead > all_tolerance then
  wait = math.max(wait, math.min(all_ahead - all_tolerance, ahead))
end
if wait > 0 then
  return wait
end
return -1
