-- Moves a member's read marker in a room forward to a message of the room
-- (never back: an older message changes nothing).
-- KEYS[1] room hash, KEYS[2] members, KEYS[3] messages stream, KEYS[4] read
-- markers
-- ARGV[1] user id, ARGV[2] message id (well-formed)
-- Returns 'no_room', 'not_member', 'not_in_room' (no such message here),
-- 'unchanged' or 'moved'.
if redis.call('EXISTS', KEYS[1]) == 0 then return 'no_room' end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 'not_member' end
local entry = redis.call('XRANGE', KEYS[3], ARGV[2], ARGV[2])[1]
local seq
if entry then
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 's' then seq = tonumber(fields[i + 1]) end
  end
  -- A message from before numbering: at most the room's `seq_base`.
  seq = seq or tonumber(redis.call('HGET', KEYS[1], 'seq_base') or '0')
else
  -- Trimmed from history (older than the oldest message kept, in a room
  -- that has lost some): an old marker, which changes nothing.
  local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)[1]
  local count = tonumber(redis.call('HGET', KEYS[1], 'message_count') or '0')
  if first and id_less(ARGV[2], first[1]) and count > redis.call('XLEN', KEYS[3]) then
    return 'unchanged'
  end
  return 'not_in_room'
end
local current = redis.call('HGET', KEYS[4], ARGV[1])
if current and not id_less(string.match(current, '^(%S+) '), ARGV[2]) then
  return 'unchanged'
end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2] .. ' ' .. seq)
return 'moved'
