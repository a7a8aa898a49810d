-- Stores a direct message with a fresh id, idempotently, and hands it to
-- realtime delivery in the same atomic step: published to both users'
-- channels, and queued for the recipient when they have no open stream.
-- Ids come from `next_message_id` (lib.lua), so room and direct message ids
-- are unique and ordered together.
--
-- The message arrives as the event JSON confab encoded (`crate::event`);
-- the script only puts the id in front (`<id> <json>`), which is the form
-- the list, the idempotency record, Pub/Sub and the offline queue all keep.
--
-- KEYS[1] conversation list, KEYS[2] presence, KEYS[3] recipient's offline
-- list, KEYS[4] last message id (global), KEYS[5] idempotency key (only
-- with a client id)
-- ARGV[1] event JSON without its id, ARGV[2] list cap,
-- ARGV[3] idempotency TTL (s), ARGV[4] recipient id, ARGV[5] recipient's
-- channel, ARGV[6] sender's channel, ARGV[7] offline cap
--
-- The presence set and the offline list live in other hash slots: this
-- script needs a standalone Redis (or all keys on one node).
--
-- Returns {'new', id}, or {'dup', element} with the original element of a
-- repeated client id.
if KEYS[5] then
  local previous = redis.call('GET', KEYS[5])
  if previous then
    return {'dup', previous}
  end
end
local id = next_message_id(KEYS[4])
local element = id .. ' ' .. ARGV[1]
if redis.call('RPUSH', KEYS[1], element) > tonumber(ARGV[2]) then
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
end
if KEYS[5] then
  redis.call('SET', KEYS[5], element, 'EX', ARGV[3])
end
redis.call('PUBLISH', ARGV[5], element)
redis.call('PUBLISH', ARGV[6], element)
if not redis.call('ZSCORE', KEYS[2], ARGV[4]) then
  if redis.call('RPUSH', KEYS[3], element) > tonumber(ARGV[7]) then
    redis.call('LTRIM', KEYS[3], -tonumber(ARGV[7]), -1)
  end
end
return {'new', id}
