-- Sets a member's score in a "most recent first" index to the recency of
-- `ms`: ms * 1000, raised if needed to one more than the current top score,
-- so that entries added in the same millisecond still order by arrival.
-- (Scores stay below 2^53, exact in a double; callers divide by 1000 for
-- the time.)
-- KEYS[1] the index (sorted set)
-- ARGV[1] time (ms), ARGV[2] member, ARGV[3] 'GT' (raise only),
-- 'XX' (raise only, existing members only) or 'NX' (add only)
-- Returns the member's score after the call.
local score = tonumber(ARGV[1]) * 1000
local top = redis.call('ZRANGE', KEYS[1], '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES')
if top[2] and tonumber(top[2]) >= score then
  score = tonumber(top[2]) + 1
end
local flags = {ARGV[3]}
if ARGV[3] == 'XX' then flags = {'XX', 'GT'} end
redis.call('ZADD', KEYS[1], unpack(flags), string.format('%d', score), ARGV[2])
return redis.call('ZSCORE', KEYS[1], ARGV[2])
