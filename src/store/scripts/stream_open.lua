-- Opens a stream for a user: checks the per-user cap and records the
-- stream. When the user had no live stream (they were offline), it also
-- returns their offline queues (messages, and notifications apart) and their
-- stored position, the two halves of what arrived while they were away; the
-- queues are not emptied here (see `store::streams::drained`), so an open
-- that fails later loses nothing.
-- Sends queue only for users without a live stream, atomically with this
-- (the queue lives in this user's slot).
-- KEYS[1] user's streams, KEYS[2] offline message queue, KEYS[3] stored
-- position, KEYS[4] offline notification queue
-- ARGV[1] stream id, ARGV[2] now (ms), ARGV[3] expiry (ms), ARGV[4] cap on
-- open streams, ARGV[5] message queue cap, ARGV[6] notification queue cap
-- (only the newest `cap` entries of each are sent)
-- Returns {'full'}, {'online'} (others streams are live: no backlog), or
-- {'offline', position or '', number of queued messages, queued message...,
-- queued notification...}.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local live = redis.call('ZCARD', KEYS[1])
if live >= tonumber(ARGV[4]) then
  return {'full'}
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
if live > 0 then
  return {'online'}
end
local messages = redis.call('LRANGE', KEYS[2], -tonumber(ARGV[5]), -1)
local out = {'offline', redis.call('GET', KEYS[3]) or '', tostring(#messages)}
for _, event in ipairs(messages) do
  out[#out + 1] = event
end
for _, event in ipairs(redis.call('LRANGE', KEYS[4], -tonumber(ARGV[6]), -1)) do
  out[#out + 1] = event
end
return out
