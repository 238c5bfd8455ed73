-- Brings a member's visibility in a room up to date after a change to the user.
-- KEYS[1]  the room's members: a hash user -> space-separated session ids
-- KEYS[2]  the room's visible members: a sorted set
-- KEYS[3]  the room's typists: a hash user -> 'session deadline_ms'
-- ARGV[1]  user id
-- ARGV[2]  '1' if others can see the user, else '0'
-- ARGV[3]  a session whose typing ends here ('' for none)
-- Returns {is a member (0/1), visible count, typing ended (0/1)}.
local member = redis.call('HEXISTS', KEYS[1], ARGV[1])
local ended = 0
local typing = redis.call('HGET', KEYS[3], ARGV[1])
if member == 1 and ARGV[2] == '1' then
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  if typing then
    redis.call('HDEL', KEYS[3], ARGV[1])
    ended = 1
    typing = nil
  end
end
if typing and ARGV[3] ~= '' and string.match(typing, '^(%S+)') == ARGV[3] then
  redis.call('HDEL', KEYS[3], ARGV[1])
  ended = 1
end
return {member, redis.call('ZCARD', KEYS[2]), ended}
