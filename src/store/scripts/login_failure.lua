-- Counts one failed password on a username from a client address, against
-- both of login_failures_check.lua's counters. Each is a GCRA arrival time,
-- advanced by one interval but never past `burst` intervals ahead, so that
-- failures that passed the check together cannot stretch a lockout beyond
-- one interval past the limit. Keys expire once their time has passed.
-- KEYS, ARGV: as in login_failures_check.lua
local now = now_ms()
for i = 1, 2 do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = math.min(tat + interval, now + interval * burst)
  redis.call('SET', KEYS[i], string.format('%d', new_tat), 'PX', math.max(1, new_tat - now))
end
return 0
