-- Applies an edit or a delete of a room message, checked by the caller
-- (the message exists, is the caller's and is within the edit window), in
-- one step with its event: the new state in the edits hash, a delete's
-- number moved from the sender's own messages to the deleted ones (so
-- unread counts leave it out), the event appended to the room's changes and
-- published on the room's channel, in order with the room's messages.
-- KEYS[1] room hash, KEYS[2] members, KEYS[3] edits hash, KEYS[4] deleted
-- messages, KEYS[5] changes stream, KEYS[6] the sender's own numbers
-- ARGV[1] user id, ARGV[2] message id, ARGV[3] 'edit' or 'delete',
-- ARGV[4] the new state (JSON), ARGV[5] the message's number or '',
-- ARGV[6] changes MAXLEN (approximate), ARGV[7] the publish command,
-- ARGV[8] room channel, ARGV[9] the event's JSON without its id
-- Returns {'not_member'}, {'deleted'} (deleted meanwhile) or {'ok', change id}.
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'not_member'} end
if redis.call('ZSCORE', KEYS[4], ARGV[2]) then return {'deleted'} end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
if ARGV[3] == 'delete' then
  local seq = tonumber(ARGV[5]) or 0
  redis.call('ZADD', KEYS[4], seq, ARGV[2])
  redis.call('ZREM', KEYS[6], seq)
end
local id = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'e', ARGV[9])
redis.call('HINCRBY', KEYS[1], 'change_count', 1)
redis.call(ARGV[7], ARGV[8], id .. ' ' .. ARGV[9])
return {'ok', id}
