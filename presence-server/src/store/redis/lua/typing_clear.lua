-- Ends a member's typing: at once, or only if it still ends at a given deadline.
-- KEYS[1]  the room's visible members: a sorted set
-- KEYS[2]  the room's typists: a hash user -> 'session deadline_ms'
-- ARGV[1]  user id
-- ARGV[2]  the deadline it must still have ('' for any)
-- Returns 1 if visible typing ended, else 0.
local typing = redis.call('HGET', KEYS[2], ARGV[1])
if not typing then
  return 0
end
if ARGV[2] ~= '' and string.match(typing, '(%S+)$') ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 1
end
return 0
