-- Delivers an event to one user, atomically with their stream opens (every
-- key and the channel are in the user's hash slot): published on their
-- channel when they hold a live stream, queued in their offline list when
-- they hold none. A stream subscribes before its open records it, so an
-- event is either live on every stream of theirs or queued for the next.
-- KEYS[1] user's streams, KEYS[2] the offline queue for this kind of event
-- (messages and operator notifications each have their own, capped apart)
-- ARGV[1] now (ms), ARGV[2] event (wire form), ARGV[3] queue cap,
-- ARGV[4] the publish command (`PUBLISH`, or `SPUBLISH` on a cluster),
-- ARGV[5] the user's channel
-- Returns 1 when queued, 0 when published.
if redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf') > 0 then
  redis.call(ARGV[4], ARGV[5], ARGV[2])
  return 0
end
local cap = tonumber(ARGV[3])
if redis.call('RPUSH', KEYS[2], ARGV[2]) > cap then
  redis.call('LTRIM', KEYS[2], -cap, -1)
end
return 1
