-- Removes a member from an existing room.
-- KEYS[1] room hash, KEYS[2] room members
-- ARGV[1] user id
-- Returns -1 when the room does not exist, 1 when the user was a member,
-- 0 when they were not.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
return redis.call('ZREM', KEYS[2], ARGV[1])
