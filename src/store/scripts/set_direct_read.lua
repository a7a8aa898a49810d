-- Moves a user's read marker in a conversation forward to one of its
-- messages (never back).
-- KEYS[1] conversation list, KEYS[2] meta hash
-- ARGV[1] user id, ARGV[2] the other user's id, ARGV[3] message id
-- (well-formed)
-- Returns 'not_in_conversation', 'unchanged' or 'moved'.
local index = list_index_by_id(KEYS[1], ARGV[3])
if not index then
  -- Trimmed away (older than the oldest message kept): an old marker.
  local first = redis.call('LINDEX', KEYS[1], 0)
  local count = tonumber(redis.call('HGET', KEYS[2], 'count') or '0')
  if first and id_less(ARGV[3], first) and count > redis.call('LLEN', KEYS[1]) then
    return 'unchanged'
  end
  return 'not_in_conversation'
end
local count = conversation_count(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
local seq = count - (redis.call('LLEN', KEYS[1]) - 1 - index)
local field = 'read:' .. ARGV[1]
local current = redis.call('HGET', KEYS[2], field)
if current and not id_less(string.match(current, '^(%S+) '), ARGV[3]) then
  return 'unchanged'
end
redis.call('HSET', KEYS[2], field, ARGV[3] .. ' ' .. seq)
return 'moved'
