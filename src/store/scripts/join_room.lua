-- Adds a member to an existing room and reads the room as it is then.
-- KEYS[1] room hash, KEYS[2] room members
-- ARGV[1] user id, ARGV[2] joined at (ms)
-- Returns {-1} when the room does not exist, otherwise {added, room hash
-- fields, member count} where added is 1 for a new member and 0 when the
-- user already was one (their original join time is kept). Scores are
-- recencies (lib.lua), so members who join within one millisecond still
-- list latest first.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {-1}
end
local added = 0
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  added = redis.call('ZADD', KEYS[2], 'NX', recency(KEYS[2], tonumber(ARGV[2])), ARGV[1])
end
return {added, redis.call('HGETALL', KEYS[1]), redis.call('ZCARD', KEYS[2])}
