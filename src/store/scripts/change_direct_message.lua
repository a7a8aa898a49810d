-- Applies an edit or a delete of a direct message, checked by the caller,
-- in one step with its record in the conversation's list of changes
-- (`<change id> <json>`, ids increasing like the conversation's); the users'
-- streams get the event after the script, as with messages.
-- KEYS[1] edits hash, KEYS[2] deleted messages, KEYS[3] changes list,
-- KEYS[4] the sender's own numbers
-- ARGV[1] message id, ARGV[2] 'edit' or 'delete', ARGV[3] the new state
-- (JSON), ARGV[4] the message's number or '', ARGV[5] changes cap,
-- ARGV[6] the event's JSON without its id
-- Returns {'deleted'} (deleted meanwhile) or {'ok', change id}.
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {'deleted'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[2] == 'delete' then
  local seq = tonumber(ARGV[4]) or 0
  redis.call('ZADD', KEYS[2], seq, ARGV[1])
  redis.call('ZREM', KEYS[4], seq)
end
local ms = now_ms()
local seq = 0
local last = redis.call('LINDEX', KEYS[3], -1)
if last then
  local last_ms, last_seq = string.match(last, '^(%d+)-(%d+) ')
  if tonumber(last_ms) >= ms then
    ms = tonumber(last_ms)
    seq = tonumber(last_seq) + 1
  end
end
local id = string.format('%d-%d', ms, seq)
if redis.call('RPUSH', KEYS[3], id .. ' ' .. ARGV[6]) > tonumber(ARGV[5]) then
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[5]), -1)
end
return {'ok', id}
