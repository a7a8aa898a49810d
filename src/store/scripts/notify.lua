-- Delivers a notification to users: published on each one's channel, and
-- queued for those without an open stream.
-- KEYS[1] presence
-- ARGV[1] event JSON, ARGV[2] offline cap, then per user three values:
-- user id, user channel, offline queue key.
-- Returns the number of users.
local cap = tonumber(ARGV[2])
local n = 0
for i = 3, #ARGV, 3 do
  local user, channel, queue = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  redis.call('PUBLISH', channel, ARGV[1])
  if not redis.call('ZSCORE', KEYS[1], user) then
    if redis.call('RPUSH', queue, ARGV[1]) > cap then
      redis.call('LTRIM', queue, -cap, -1)
    end
  end
  n = n + 1
end
return n
