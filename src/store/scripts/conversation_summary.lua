-- A conversation as its list shows it to one user: the last message with
-- its current state, and the user's read marker and unread count (counted
-- as in rooms, `room_unread.lua`).
-- KEYS[1] conversation list, KEYS[2] meta hash, KEYS[3] the user's own
-- message numbers, KEYS[4] deleted messages, KEYS[5] edits hash
-- ARGV[1] user id
-- Returns {last element or '', its state or '', marker id or '', unread}.
local last = redis.call('LINDEX', KEYS[1], -1)
if not last then return {'', '', '', 0} end
local state = redis.call('HGET', KEYS[5], string.match(last, '^(%d+-%d+) ')) or ''
local count = tonumber(redis.call('HGET', KEYS[2], 'count'))
if not count then
  -- From before read markers, and nothing sent since: all read.
  return {last, state, '', 0}
end
local marker = redis.call('HGET', KEYS[2], 'read:' .. ARGV[1])
local id, seq = '', 0
if marker then
  local marker_id, marker_seq = string.match(marker, '^(%S+) (%d+)$')
  id, seq = marker_id, tonumber(marker_seq)
end
return {last, state, id, unread_after(count, seq, KEYS[3], KEYS[4])}
