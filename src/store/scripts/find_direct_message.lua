-- One message of a conversation, found by id, with what an edit or delete
-- needs to know of it.
-- KEYS[1] conversation list, KEYS[2] meta hash, KEYS[3] edits hash,
-- KEYS[4] deleted messages
-- ARGV[1] message id (well-formed)
-- Returns {} when it is not there, otherwise {element, number or '' (from
-- before numbering), edit state or ''}.
local index, element = list_index_by_id(KEYS[1], ARGV[1])
if not index then return {} end
local count = redis.call('HGET', KEYS[2], 'count')
local seq = ''
if count then
  seq = tostring(tonumber(count) - (redis.call('LLEN', KEYS[1]) - 1 - index))
end
return {element, seq, redis.call('HGET', KEYS[3], ARGV[1]) or ''}
