-- Stores a direct message with a fresh id, idempotently and atomically (all
-- keys in the conversation's slot).
-- Ids take the form of Redis Stream ids (`<ms>-<seq>`), from the server clock,
-- strictly increasing within the conversation, so they order with room
-- message ids by time.
-- KEYS[1] conversation list, KEYS[2] idempotency key (only with a client id)
-- ARGV[1] message JSON without its id, ARGV[2] list cap,
-- ARGV[3] idempotency TTL (s)
-- Returns {'new', element} or {'dup', element}; an element is `<id> <json>`.
if KEYS[2] then
  local previous = redis.call('GET', KEYS[2])
  if previous then
    return {'dup', previous}
  end
end
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local seq = 0
local last = redis.call('LINDEX', KEYS[1], -1)
if last then
  local last_ms, last_seq = string.match(last, '^(%d+)-(%d+) ')
  last_ms = tonumber(last_ms)
  if last_ms >= ms then
    ms = last_ms
    seq = tonumber(last_seq) + 1
  end
end
local element = string.format('%d-%d %s', ms, seq, ARGV[1])
redis.call('RPUSH', KEYS[1], element)
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
if KEYS[2] then
  redis.call('SET', KEYS[2], element, 'EX', ARGV[3])
end
return {'new', element}
