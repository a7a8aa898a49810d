-- Stores a room message and hands it to realtime delivery in one atomic
-- step: membership check, idempotency, the stream entry, every counter, the
-- Pub/Sub publish (so streams see messages in id order) and the offline
-- queues of members without an open stream, and the room's place in the
-- activity order. A crash or a racing retry can never leave half a message
-- or store one twice.
--
-- KEYS[1] room hash, KEYS[2] members, KEYS[3] messages stream,
-- KEYS[4] senders, KEYS[5] presence, KEYS[6] last message id (global),
-- KEYS[7] rooms by activity, KEYS[8] idempotency key (only with a client id)
-- ARGV[1] sender id, ARGV[2] sender username, ARGV[3] sender display name,
-- ARGV[4] body, ARGV[5] client id or '', ARGV[6] stream MAXLEN (approximate),
-- ARGV[7] idempotency TTL (s), ARGV[8] room id, ARGV[9] room channel,
-- ARGV[10] offline key head, ARGV[11] offline key tail, ARGV[12] offline cap,
-- ARGV[13] history age limit (ms; 0 for none), ARGV[14] the message's
-- event JSON without its id, as confab encoded it (`crate::event`): the
-- script publishes and queues it as `<id> <json>`
--
-- The presence set and members' offline lists live in other hash slots:
-- this script needs a standalone Redis (or all keys on one node).
--
-- Returns {'no_room'}, {'not_member'}, {'new', id, offline queues
-- appended to} or {'dup', id, fields-or-nil} for a repeated client id.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'no_room'}
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return {'not_member'}
end
if KEYS[8] then
  local previous = redis.call('GET', KEYS[8])
  if previous then
    local entry = redis.call('XRANGE', KEYS[3], previous, previous)
    if entry[1] then
      return {'dup', previous, entry[1][2]}
    end
    return {'dup', previous}
  end
end
local fields = {'u', ARGV[1], 'n', ARGV[2], 'd', ARGV[3], 'b', ARGV[4]}
if ARGV[5] ~= '' then
  fields[#fields + 1] = 'c'
  fields[#fields + 1] = ARGV[5]
end
local id, ms = next_message_id(KEYS[6])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], id, unpack(fields))
local max_age = tonumber(ARGV[13])
if max_age > 0 then
  redis.call('XTRIM', KEYS[3], 'MINID', string.format('%d-0', math.max(0, ms - max_age)))
end
redis.call('HINCRBY', KEYS[1], 'message_count', 1)
redis.call('HSET', KEYS[1], 'last_message_id', id)
redis.call('ZINCRBY', KEYS[4], 1, ARGV[1])
if KEYS[8] then
  redis.call('SET', KEYS[8], id, 'EX', ARGV[7])
end
-- The room rises in the directory's activity order (a recency; only
-- raised, only for listed rooms).
redis.call('ZADD', KEYS[7], 'XX', 'GT', recency(KEYS[7], ms), ARGV[8])

local event = id .. ' ' .. ARGV[14]
redis.call('PUBLISH', ARGV[9], event)
-- Members without an open stream (not in the presence set), except the
-- sender, get it in their offline queue.
-- Queues are trimmed in batches (past an eighth over the cap) to spare a
-- command per member per message; stream_open.lua reads only the newest
-- `cap` entries, so clients never see more than the cap.
local queued = 0
local cap = tonumber(ARGV[12])
local trim_at = cap + math.max(16, math.floor(cap / 8))
for _, member in ipairs(redis.call('ZDIFF', 2, KEYS[2], KEYS[5])) do
  if member ~= ARGV[1] then
    local queue = ARGV[10] .. member .. ARGV[11]
    queued = queued + 1
    if redis.call('RPUSH', queue, event) > trim_at then
      redis.call('LTRIM', queue, -cap, -1)
    end
  end
end
return {'new', id, queued}
