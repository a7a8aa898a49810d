-- Claims a room name and lists the room, atomically (all keys in the
-- `{rooms}` slot): either the name is free and the room appears in both
-- indexes, or nothing changes.
-- KEYS[1] room name key, KEYS[2] rooms by created, KEYS[3] rooms by activity
-- ARGV[1] room id, ARGV[2] created at (ms), ARGV[3] initial activity score
-- Returns 1 when claimed, 0 when the name is taken.
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
  return 1
end
return 0
