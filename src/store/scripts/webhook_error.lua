-- Records why a delivery attempt failed (`last_error`), unless the webhook
-- has been deleted meanwhile.
-- KEYS[1] the room's webhooks, KEYS[2] the webhook's counters
-- ARGV[1] webhook id, ARGV[2] the error
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'last_error', ARGV[2])
return 1
