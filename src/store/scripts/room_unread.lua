-- A room as one member's list shows it: the room's fields and member count,
-- with the member's read marker and unread count (messages from others
-- after the marker that are not deleted, at most 100), from counters alone,
-- whatever the room's size. Messages are numbered as they are sent
-- (`send_room_message.lua`); a marker holds its message's number. Without a
-- marker every message from others counts, except in a room from before
-- numbering, where what came before it (`seq_base`) counts as read.
-- KEYS[1] room hash, KEYS[2] members, KEYS[3] read markers, KEYS[4] the
-- member's own message numbers, KEYS[5] deleted messages
-- ARGV[1] user id
-- Returns {room hash fields, member count, marker message id or '', unread}
-- ({} fields for a room that does not exist).
local fields = redis.call('HGETALL', KEYS[1])
local members = redis.call('ZCARD', KEYS[2])
local count, base = 0, nil
for i = 1, #fields, 2 do
  if fields[i] == 'message_count' then count = tonumber(fields[i + 1]) end
  if fields[i] == 'seq_base' then base = tonumber(fields[i + 1]) end
end
local marker = redis.call('HGET', KEYS[3], ARGV[1])
local id, seq = '', base or count
if marker then
  local marker_id, marker_seq = string.match(marker, '^(%S+) (%d+)$')
  id, seq = marker_id, tonumber(marker_seq)
end
return {fields, members, id, unread_after(count, seq, KEYS[4], KEYS[5])}
