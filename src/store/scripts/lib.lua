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


-- Whether message id `a` (`<ms>-<seq>`) is older than `b`.
local function id_less(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)')
  a_ms, b_ms = tonumber(a_ms), tonumber(b_ms)
  if a_ms ~= b_ms then return a_ms < b_ms end
  return tonumber(a_seq) < tonumber(b_seq)
end

-- The index and element of a list of `<id> <json>` elements (ids
-- increasing along the list) whose id is `id` (`<ms>-<seq>`), found by
-- binary search; nil when the list does not hold it.
local function list_index_by_id(key, id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  ms, seq = tonumber(ms), tonumber(seq)
  if not ms then return nil end
  local lo, hi = 0, redis.call('LLEN', key) - 1
  while lo <= hi do
    local mid = math.floor((lo + hi) / 2)
    local e = redis.call('LINDEX', key, mid)
    local a, b = string.match(e, '^(%d+)-(%d+) ')
    a, b = tonumber(a), tonumber(b)
    if a == ms and b == seq then return mid, e end
    if a < ms or (a == ms and b < seq) then lo = mid + 1 else hi = mid - 1 end
  end
  return nil
end

-- The element of such a list whose id is `id`; nil when it is not there.
local function list_find_by_id(key, id)
  local _, element = list_index_by_id(key, id)
  return element
end

-- A conversation's message count (`count` in its meta hash: a message's
-- number is its place in it). Conversations from before read markers have
-- none: they start counting at their length, and everything in them counts
-- as read for both users (ARGV-given `a` and `b`).
local function conversation_count(list, meta, a, b)
  local count = redis.call('HGET', meta, 'count')
  if count then return tonumber(count) end
  local n = redis.call('LLEN', list)
  redis.call('HSET', meta, 'count', n)
  if n > 0 then
    local last_id = string.match(redis.call('LINDEX', list, -1), '^(%d+-%d+) ')
    redis.call('HSET', meta, 'read:' .. a, last_id .. ' ' .. n, 'read:' .. b, last_id .. ' ' .. n)
  end
  return n
end

-- The unread count: messages numbered after `marker_seq` less the reader's
-- own (`own`, a ZSET of their message numbers) and the deleted ones
-- (`deleted`, scored by number) among them, at most 100.
local function unread_after(count, marker_seq, own, deleted)
  local after = count - marker_seq
  if after <= 0 then return 0 end
  local from = '(' .. marker_seq
  local unread = after - redis.call('ZCOUNT', own, from, '+inf') - redis.call('ZCOUNT', deleted, from, '+inf')
  if unread < 0 then return 0 end
  if unread > 100 then return 100 end
  return unread
end

-- Adds `seq` to a ZSET of message numbers, keeping about the newest `cap`
-- (trimmed every 64th number, so a send usually costs one ZADD).
local function add_capped(key, seq, cap)
  redis.call('ZADD', key, seq, seq)
  if seq % 64 == 0 and redis.call('ZCARD', key) > cap then
    redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1))
  end
end
