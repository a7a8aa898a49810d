-- A page of a direct conversation (a list of `<id> <json>`, oldest first),
-- located by binary search on the ids, which increase along the list.
-- Also reads a conversation's list of changes (the same form), then without
-- an edits hash.
-- KEYS[1] conversation list, KEYS[2] edits hash (optional)
-- ARGV[1] 'latest' | 'before' | 'after', ARGV[2] cursor ms, ARGV[3] cursor
-- seq, ARGV[4] limit
-- Returns {has_more (0/1), element, state, element, state...} oldest first,
-- each state the message's entry in the edits hash or ''.
local key = KEYS[1]
local mode = ARGV[1]
local limit = tonumber(ARGV[4])
local n = redis.call('LLEN', key)

-- Whether the element at index i has an id below (ms, seq), or at or below
-- it when `inclusive`.
local function below(i, ms, seq, inclusive)
  local e = redis.call('LINDEX', key, i)
  local a, b = string.match(e, '^(%d+)-(%d+) ')
  a = tonumber(a)
  b = tonumber(b)
  if a ~= ms then return a < ms end
  if inclusive then return b <= seq end
  return b < seq
end

-- First index whose element is not below the cursor.
local function bound(inclusive)
  local ms = tonumber(ARGV[2])
  local seq = tonumber(ARGV[3])
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if below(mid, ms, seq, inclusive) then lo = mid + 1 else hi = mid end
  end
  return lo
end

local first, last, has_more
if mode == 'after' then
  first = bound(true)
  last = math.min(first + limit, n) - 1
  has_more = (first + limit) < n
else
  local stop = n
  if mode == 'before' then stop = bound(false) end
  first = math.max(stop - limit, 0)
  last = stop - 1
  has_more = first > 0
end
local out = {has_more and 1 or 0}
if last >= first then
  local page = redis.call('LRANGE', key, first, last)
  local states = {}
  if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
    local ids = {}
    for i = 1, #page do ids[i] = string.match(page[i], '^(%d+-%d+) ') end
    states = redis.call('HMGET', KEYS[2], unpack(ids))
  end
  for i = 1, #page do
    out[#out + 1] = page[i]
    out[#out + 1] = states[i] or ''
  end
end
return out
