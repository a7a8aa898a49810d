-- Claims a room's name keys and lists the room, atomically (all keys in the
-- `{rooms}` slot): either no name key is taken and the room holds them all
-- and appears in both indexes, or nothing changes.
-- KEYS[1] rooms by created, KEYS[2] rooms by activity, KEYS[3..] the name
-- keys: the lower-cased name and each look-alike key (`store::rooms`)
-- ARGV[1] room id, ARGV[2] created at (ms), ARGV[3] offset that puts rooms
-- without messages below every room with one in the activity index
-- Returns 1 when claimed, 0 when a name key is taken.
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return 0
  end
end
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1])
end
-- Recency (lib.lua): rooms created in one millisecond still order by
-- creation.
local score = recency(KEYS[1], tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], score, ARGV[1])
redis.call('ZADD', KEYS[2], string.format('%d', tonumber(score) - tonumber(ARGV[3])), ARGV[1])
return 1
