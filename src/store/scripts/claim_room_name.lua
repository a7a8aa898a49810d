-- Claims a room name and lists the room, atomically (all keys in the
-- `{rooms}` slot): either the name is free and the room appears in both
-- indexes, or nothing changes.
-- KEYS[1] room name key, KEYS[2] rooms by created, KEYS[3] rooms by activity
-- ARGV[1] room id, ARGV[2] created at (ms), ARGV[3] offset that puts rooms
-- without messages below every room with one in the activity index
-- Returns 1 when claimed, 0 when the name is taken.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  return 0
end
-- Recency (lib.lua): rooms created in one millisecond still order by
-- creation.
local score = recency(KEYS[2], tonumber(ARGV[2]))
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('ZADD', KEYS[3], string.format('%d', tonumber(score) - tonumber(ARGV[3])), ARGV[1])
return 1
