-- Opens a stream for a user: checks the per-user cap, records the stream,
-- marks the user online and drains their offline queue, atomically with
-- respect to sends (which queue only for users not marked online). The
-- caller subscribes to the user's channels *before* this, so every event is
-- either in the drained queue or delivered live (or both, and then the
-- stream drops the live copy by id).
-- KEYS[1] user's streams, KEYS[2] presence, KEYS[3] offline queue
-- ARGV[1] user id, ARGV[2] stream id, ARGV[3] now (ms), ARGV[4] expiry (ms),
-- ARGV[5] cap on open streams, ARGV[6] offline queue cap (queues are
-- trimmed in batches, so they may briefly hold more; only the newest `cap`
-- entries are sent)
-- Returns {'full'} or {'ok', queued event...}.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then
  return {'full'}
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[2], 'GT', ARGV[4], ARGV[1])
local queued = redis.call('LRANGE', KEYS[3], -tonumber(ARGV[6]), -1)
redis.call('DEL', KEYS[3])
table.insert(queued, 1, 'ok')
return queued
