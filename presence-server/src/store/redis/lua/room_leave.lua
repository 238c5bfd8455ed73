-- A session leaves a room; the user leaves with their last session in it.
-- KEYS[1]  the room's members: a hash user -> space-separated session ids
-- KEYS[2]  the room's visible members: a sorted set
-- KEYS[3]  the room's typists: a hash user -> 'session deadline_ms'
-- ARGV[1]  user id
-- ARGV[2]  session id
-- Returns {was a member (0/1), is a member (0/1), visible count, typing ended (0/1)}.
local sessions = redis.call('HGET', KEYS[1], ARGV[1])
if not sessions then
  return {0, 0, redis.call('ZCARD', KEYS[2]), 0}
end
local left = {}
for s in string.gmatch(sessions, '%S+') do
  if s ~= ARGV[2] then
    table.insert(left, s)
  end
end
local ended = 0
local typing = redis.call('HGET', KEYS[3], ARGV[1])
if #left == 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  if typing then
    redis.call('HDEL', KEYS[3], ARGV[1])
    ended = 1
  end
  return {1, 0, redis.call('ZCARD', KEYS[2]), ended}
end
redis.call('HSET', KEYS[1], ARGV[1], table.concat(left, ' '))
if typing and string.match(typing, '^(%S+)') == ARGV[2] then
  redis.call('HDEL', KEYS[3], ARGV[1])
  ended = 1
end
return {1, 1, redis.call('ZCARD', KEYS[2]), ended}
