-- A page of a room's Stream with the current state of each message (its
-- entry in the room's hash of edits, or '' when it was never edited).
-- KEYS[1] messages stream, KEYS[2] edits hash
-- ARGV[1] 'XRANGE' or 'XREVRANGE', ARGV[2] from, ARGV[3] to, ARGV[4] count
-- Returns {entries, states}, states in the order of the entries.
local entries = redis.call(ARGV[1], KEYS[1], ARGV[2], ARGV[3], 'COUNT', ARGV[4])
local states = {}
if #entries > 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  local ids = {}
  for i, entry in ipairs(entries) do ids[i] = entry[1] end
  local found = redis.call('HMGET', KEYS[2], unpack(ids))
  for i = 1, #entries do states[i] = found[i] or '' end
else
  for i = 1, #entries do states[i] = '' end
end
return {entries, states}
