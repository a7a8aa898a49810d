-- Shared by the scripts: prepended to each one when it is loaded
-- (`store::script`).

-- Milliseconds since the epoch, by the Redis clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The recency of `ms` in a "newest first" index: ms * 1000, raised to one
-- more than the index's top score when that is already as high, so entries
-- of one millisecond still order by arrival. (Scores stay below 2^53, exact
-- in a double; readers divide by 1000 for the time.) Formatted for ZADD.
local function recency(index, ms)
  local score = ms * 1000
  local top = redis.call('ZRANGE', index, '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 1, 'WITHSCORES')
  if top[2] and tonumber(top[2]) >= score then
    score = tonumber(top[2]) + 1
  end
  return string.format('%d', score)
end

