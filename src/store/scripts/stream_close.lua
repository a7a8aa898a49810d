-- Forgets a closed stream (or, with an empty stream id, just expired ones)
-- and, when the user has no live stream left anywhere, records when they
-- were last seen and where their last stream stood (its resume token), from
-- which their offline backlog is read when they return.
-- KEYS[1] user's streams, KEYS[2] user hash, KEYS[3] stored position
-- ARGV[1] stream id or '', ARGV[2] now (ms), ARGV[3] the stream's position
-- or ''
-- Returns 1 when the user went offline, 0 otherwise.
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) > 0 then
  return 0
end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[3], ARGV[3])
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'last_seen_at', ARGV[2])
end
return 1
