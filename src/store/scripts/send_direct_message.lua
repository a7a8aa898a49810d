-- Stores a direct message with a fresh id, idempotently. Ids are
-- `<ms>-<seq>` by the Redis clock, increasing along the conversation (never
-- at or below its last message's). The users' streams get it after the
-- script (the recipient's live or queued by `deliver_to_user.lua` in their
-- slot); every key here is in the conversation's hash slot.
--
-- The message arrives as the event JSON confab encoded (`crate::event`);
-- the script only puts the id in front (`<id> <json>`), which is the form
-- the list, Pub/Sub and the offline queue all keep. The idempotency record
-- holds the id only (as rooms do): a repeat finds the original in the list
-- by binary search, so a client's retries cost tens of bytes, not a copy.
--
-- Each message is numbered (its place in the conversation's `count`), and
-- the number goes into the sender's set of own messages, for read markers
-- and unread counts (see `conversation_count` in lib.lua).
--
-- KEYS[1] conversation list, KEYS[2] conversation meta hash, KEYS[3] the
-- sender's own message numbers, KEYS[4] idempotency key (only with a
-- client id)
-- ARGV[1] event JSON without its id, ARGV[2] list cap, ARGV[3] idempotency
-- TTL (s), ARGV[4] sender id, ARGV[5] recipient id
--
-- Returns {'new', id}; for a repeated client id {'dup', element} with the
-- original element, or {'dup', id} when it has been trimmed from the list.
if KEYS[4] then
  local previous = redis.call('GET', KEYS[4])
  if previous then
    -- Records written before ids-only hold the whole element.
    if string.find(previous, ' ', 1, true) then
      return {'dup', previous}
    end
    return {'dup', list_find_by_id(KEYS[1], previous) or previous}
  end
end
local ms = now_ms()
local seq = 0
local last = redis.call('LINDEX', KEYS[1], -1)
if last then
  local last_ms, last_seq = string.match(last, '^(%d+)-(%d+) ')
  if last_ms and tonumber(last_ms) >= ms then
    ms = tonumber(last_ms)
    seq = tonumber(last_seq) + 1
  end
end
local number = conversation_count(KEYS[1], KEYS[2], ARGV[4], ARGV[5]) + 1
local element = string.format('%d-%d', ms, seq) .. ' ' .. ARGV[1]
if redis.call('RPUSH', KEYS[1], element) > tonumber(ARGV[2]) then
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
end
redis.call('HSET', KEYS[2], 'count', number)
add_capped(KEYS[3], number, tonumber(ARGV[2]))
if KEYS[4] then
  redis.call('SET', KEYS[4], string.format('%d-%d', ms, seq), 'EX', ARGV[3])
end
return {'new', string.format('%d-%d', ms, seq)}
