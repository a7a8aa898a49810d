-- Removes a webhook: its record, its consumer groups (pending deliveries
-- included: nothing more is delivered), its counters and its lease.
-- KEYS[1] room hash, KEYS[2] members, KEYS[3] the room's webhooks,
-- KEYS[4] messages stream, KEYS[5] changes stream, KEYS[6] its counters,
-- KEYS[7] its lease
-- ARGV[1] user id, ARGV[2] webhook id, ARGV[3] the consumer group's name
-- Returns 'no_room', 'not_member', 'not_found' or 'ok'.
if redis.call('EXISTS', KEYS[1]) == 0 then return 'no_room' end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 'not_member' end
if redis.call('HDEL', KEYS[3], ARGV[2]) == 0 then return 'not_found' end
redis.pcall('XGROUP', 'DESTROY', KEYS[4], ARGV[3])
redis.pcall('XGROUP', 'DESTROY', KEYS[5], ARGV[3])
redis.call('DEL', KEYS[6], KEYS[7])
return 'ok'
