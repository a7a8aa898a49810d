-- A GCRA rate limit (a token bucket without a refill timer): `burst`
-- requests at once, then one every `interval` ms. The key holds the
-- theoretical arrival time (TAT) and expires once it has passed.
-- With a session key as KEYS[2] (in the same user's slot), the session is
-- checked in the same call: a request then costs one round trip for both.
-- With KEYS[3] (the user's too), that key is deleted when the request is
-- allowed: a sent message ends the sender's typing throttle where it went.
-- KEYS[1] limiter key, KEYS[2] session key (optional), KEYS[3] a key to
-- delete when allowed (optional)
-- ARGV[1] interval between requests (ms), ARGV[2] burst, ARGV[3] 'peek'
-- to only look (nothing is counted; for limits that count failures, checked
-- before the attempt and counted after it fails)
-- Returns 0 when allowed (and counted), -1 when the session is gone,
-- otherwise the ms until one would be allowed.
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local now = now_ms()
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local ahead = tat - now
if ahead > tolerance then
  return ahead - tolerance
end
if ARGV[3] == 'peek' then
  return 0
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.max(1, new_tat - now))
if KEYS[3] then
  redis.call('DEL', KEYS[3])
end
return 0
