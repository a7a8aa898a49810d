-- Forgets a closed stream (or, with an empty stream id, just expired ones)
-- and, when the user has no live stream left anywhere, marks them offline
-- and records when they were last seen. Sends from then on queue offline.
-- KEYS[1] user's streams, KEYS[2] presence, KEYS[3] user hash
-- ARGV[1] user id, ARGV[2] stream id or '', ARGV[3] now (ms)
-- Returns 1 when the user went offline, 0 otherwise.
if ARGV[2] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[1]) > 0 then
  return 0
end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HSET', KEYS[3], 'last_seen_at', ARGV[3])
end
return 1
