-- A member's read state in a room: their marker and the unread count
-- (messages from others after the marker that are not deleted, at most
-- 100), from counters alone, whatever the room's size. Messages are
-- numbered as they are sent (`send_room_message.lua`); a marker holds its
-- message's number. Without a marker every message from others counts,
-- except in a room from before numbering, where what came before it
-- (`seq_base`) counts as read.
-- KEYS[1] room hash, KEYS[2] read markers, KEYS[3] the member's own message
-- numbers, KEYS[4] deleted messages
-- ARGV[1] user id
-- Returns {marker message id or '', unread count}.
local room = redis.call('HMGET', KEYS[1], 'message_count', 'seq_base')
local count = tonumber(room[1]) or 0
local marker = redis.call('HGET', KEYS[2], ARGV[1])
local id, seq = '', tonumber(room[2]) or count
if marker then
  local marker_id, marker_seq = string.match(marker, '^(%S+) (%d+)$')
  id, seq = marker_id, tonumber(marker_seq)
end
return {id, unread_after(count, seq, KEYS[3], KEYS[4])}
