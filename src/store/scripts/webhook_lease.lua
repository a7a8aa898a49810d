-- Takes or renews an instance's lease on a webhook's deliveries; a lease
-- held by another instance is left alone.
-- KEYS[1] the lease, KEYS[2] the room's webhooks
-- ARGV[1] instance id, ARGV[2] lease (ms), ARGV[3] webhook id
-- Returns 1 when the caller holds the lease now, 0 when another does, -1
-- when the webhook no longer exists (the lease is dropped).
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then
  if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return -1
end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
