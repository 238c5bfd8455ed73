-- Starts or refreshes a member's typing.
-- KEYS[1]  the room's visible members: a sorted set
-- KEYS[2]  the room's typists: a hash user -> 'session deadline_ms'
-- ARGV[1]  user id
-- ARGV[2]  session id
-- ARGV[3]  deadline (epoch ms)
-- Returns 0 started, 1 refreshed, 2 hidden (the user is not a visible member).
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 2
end
local before = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
if before then
  return 1
end
return 0
