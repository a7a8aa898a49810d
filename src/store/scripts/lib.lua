-- Shared by the scripts: prepended to each one when it is loaded
-- (`store::script`).

-- Milliseconds since the epoch, by the Redis clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The next message id (`<ms>-<seq>`, the form of stream ids): the Redis
-- clock, but never at or below the last id handed out to any room or
-- conversation (kept in `last_key`), so ids are unique and ordered
-- deployment-wide and one Last-Event-ID says exactly where a stream stopped.
-- Returns the id and its milliseconds.
local function next_message_id(last_key)
  local ms = now_ms()
  local seq = 0
  local last = redis.call('GET', last_key)
  if last then
    local last_ms, last_seq = string.match(last, '^(%d+)-(%d+)$')
    if tonumber(last_ms) >= ms then
      ms = tonumber(last_ms)
      seq = tonumber(last_seq) + 1
    end
  end
  local id = string.format('%d-%d', ms, seq)
  redis.call('SET', last_key, id)
  return id, ms
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

