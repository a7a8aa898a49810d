-- Sets a member's score in a "most recent first" index to the recency of
-- `ms` (see `recency` in lib.lua).
-- KEYS[1] the index (sorted set)
-- ARGV[1] time (ms), ARGV[2] member, ARGV[3] 'GT' (raise only),
-- 'XX' (raise only, existing members only) or 'NX' (add only)
-- Returns the member's score after the call.
local flags = {ARGV[3]}
if ARGV[3] == 'XX' then flags = {'XX', 'GT'} end
redis.call('ZADD', KEYS[1], unpack(flags), recency(KEYS[1], tonumber(ARGV[1])), ARGV[2])
return redis.call('ZSCORE', KEYS[1], ARGV[2])
