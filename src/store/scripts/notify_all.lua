-- Delivers a notification to every user: one publish on the broadcast
-- channel, and a queued copy for every user without an open stream.
-- KEYS[1] all users, KEYS[2] presence
-- ARGV[1] event JSON, ARGV[2] broadcast channel, ARGV[3] offline key head,
-- ARGV[4] offline key tail, ARGV[5] offline cap
-- Returns the number of users.
redis.call('PUBLISH', ARGV[2], ARGV[1])
local cap = tonumber(ARGV[5])
for _, user in ipairs(redis.call('ZDIFF', 2, KEYS[1], KEYS[2])) do
  local queue = ARGV[3] .. user .. ARGV[4]
  if redis.call('RPUSH', queue, ARGV[1]) > cap then
    redis.call('LTRIM', queue, -cap, -1)
  end
end
return redis.call('ZCARD', KEYS[1])
