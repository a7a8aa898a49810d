-- Stores a room message and hands it to realtime delivery in one atomic
-- step: membership check, idempotency, the stream entry (its id, from
-- `XADD *`, is the message id: ordered within the room), every counter and
-- the Pub/Sub publish (so streams see the room's messages in id order).
-- Nothing is copied per member: members without a stream read what they
-- missed from this Stream when they return. Every key is in the room's
-- hash slot; the directory's activity order is updated after the script.
-- A crash or a racing retry can never leave half a message or store one
-- twice.
--
-- Each message is numbered (`s`, its place in the room's message count), and
-- the number goes into the sender's set of own messages: read markers and
-- unread counts work on those numbers (`room_unread.lua`). A room from
-- before numbering keeps, as `seq_base`, the count at its first numbered
-- message: members without a marker count what came before as read.
--
-- KEYS[1] room hash, KEYS[2] members, KEYS[3] messages stream,
-- KEYS[4] senders, KEYS[5] the sender's own message numbers,
-- KEYS[6] idempotency key (only with a client id)
-- ARGV[1] sender id, ARGV[2] sender username, ARGV[3] sender display name,
-- ARGV[4] body, ARGV[5] client id or '', ARGV[6] stream MAXLEN (approximate),
-- ARGV[7] idempotency TTL (s), ARGV[8] the publish command (`PUBLISH`, or
-- `SPUBLISH` on a cluster), ARGV[9] room channel, ARGV[10] history age
-- limit (ms; 0 for none), ARGV[11] the message's event JSON without its
-- id, as confab encoded it (`crate::event`): published as `<id> <json>`
--
-- Returns {'no_room'}, {'not_member'}, {'new', id} or {'dup', id,
-- fields-or-nil} for a repeated client id.
-- The room's id, count and numbering base in one read (`id` is set on
-- every room, so its absence means no room).
local room = redis.call('HMGET', KEYS[1], 'id', 'message_count', 'seq_base')
if not room[1] then
  return {'no_room'}
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return {'not_member'}
end
if KEYS[6] then
  local previous = redis.call('GET', KEYS[6])
  if previous then
    local entry = redis.call('XRANGE', KEYS[3], previous, previous)
    if entry[1] then
      return {'dup', previous, entry[1][2]}
    end
    return {'dup', previous}
  end
end
local before = tonumber(room[2] or '0')
local seq = before + 1
local fields = {'u', ARGV[1], 'n', ARGV[2], 'd', ARGV[3], 'b', ARGV[4], 's', seq}
if ARGV[5] ~= '' then
  fields[#fields + 1] = 'c'
  fields[#fields + 1] = ARGV[5]
end
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', unpack(fields))
local max_age = tonumber(ARGV[10])
if max_age > 0 then
  local ms = tonumber(string.match(id, '^(%d+)-'))
  redis.call('XTRIM', KEYS[3], 'MINID', string.format('%d-0', math.max(0, ms - max_age)))
end
if room[3] then
  redis.call('HSET', KEYS[1], 'message_count', seq, 'last_message_id', id)
else
  redis.call('HSET', KEYS[1], 'message_count', seq, 'last_message_id', id, 'seq_base', before)
end
redis.call('ZINCRBY', KEYS[4], 1, ARGV[1])
add_capped(KEYS[5], seq, tonumber(ARGV[6]))
if KEYS[6] then
  redis.call('SET', KEYS[6], id, 'EX', ARGV[7])
end
redis.call(ARGV[8], ARGV[9], id .. ' ' .. ARGV[11])
return {'new', id}
