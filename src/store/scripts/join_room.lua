-- Adds a member to an existing room.
-- KEYS[1] room hash, KEYS[2] room members
-- ARGV[1] user id, ARGV[2] joined at (ms)
-- Returns -1 when the room does not exist, 1 for a new member, 0 when the
-- user already was one (their original join time is kept).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
return redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
