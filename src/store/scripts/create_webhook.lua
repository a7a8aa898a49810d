-- Adds a webhook to a room, with its consumer groups on the room's messages
-- and changes streams starting at their current end (`$`): in one step with
-- the room's sends, so exactly the messages sent after it are delivered.
-- KEYS[1] room hash, KEYS[2] members, KEYS[3] the room's webhooks,
-- KEYS[4] messages stream, KEYS[5] changes stream
-- ARGV[1] user id, ARGV[2] webhook id, ARGV[3] the webhook (JSON),
-- ARGV[4] the room's cap, ARGV[5] the consumer group's name
-- Returns 'no_room', 'not_member', 'too_many' or 'ok'.
if redis.call('EXISTS', KEYS[1]) == 0 then return 'no_room' end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 'not_member' end
if redis.call('HLEN', KEYS[3]) >= tonumber(ARGV[4]) then return 'too_many' end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('XGROUP', 'CREATE', KEYS[4], ARGV[5], '$', 'MKSTREAM')
redis.call('XGROUP', 'CREATE', KEYS[5], ARGV[5], '$', 'MKSTREAM')
return 'ok'
