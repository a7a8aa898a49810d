-- Ends one delivery of a webhook: acknowledges the entry in the webhook's
-- consumer group and counts it, delivered or given up; nothing when the
-- webhook has been deleted meanwhile (its counters are gone with it).
-- KEYS[1] the room's webhooks, KEYS[2] the stream the entry is in,
-- KEYS[3] the webhook's counters
-- ARGV[1] webhook id, ARGV[2] consumer group, ARGV[3] entry id,
-- ARGV[4] 'delivered' or 'failed', ARGV[5] now (ms), ARGV[6] the last error
-- (for 'failed')
-- Returns 1, or 0 when the webhook is gone.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
if ARGV[4] == 'delivered' then
  redis.call('HSET', KEYS[3], 'last_delivered_at', ARGV[5])
else
  redis.call('HSET', KEYS[3], 'last_error', ARGV[6])
end
return 1
