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


-- The element of a list of `<id> <json>` elements (ids increasing along the
-- list) whose id is `id` (`<ms>-<seq>`), found by binary search; nil when
-- the list no longer holds it.
local function list_find_by_id(key, id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  ms, seq = tonumber(ms), tonumber(seq)
  if not ms then return nil end
  local lo, hi = 0, redis.call('LLEN', key) - 1
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    local e = redis.call('LINDEX', key, mid)
    local a, b = string.match(e, '^(%d+)-(%d+) ')
    a, b = tonumber(a), tonumber(b)
    if a == ms and b == seq then return e end
    if a < ms or (a == ms and b < seq) then lo = mid + 1 else hi = mid - 1 end
  end
  return nil
end
