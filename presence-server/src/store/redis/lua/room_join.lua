-- A session joins a room.
-- KEYS[1]  the room's members: a hash user -> space-separated session ids
-- KEYS[2]  the room's visible members: a sorted set (all scores 0, so ordered by id)
-- ARGV[1]  user id
-- ARGV[2]  session id
-- ARGV[3]  '1' if others can see the user, else '0'
-- Returns {was the user a member before (0/1), visible member count after}.
local sessions = redis.call('HGET', KEYS[1], ARGV[1])
local was = 0
if sessions then
  was = 1
  if not string.find(' ' .. sessions .. ' ', ' ' .. ARGV[2] .. ' ', 1, true) then
    redis.call('HSET', KEYS[1], ARGV[1], sessions .. ' ' .. ARGV[2])
  end
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return {was, redis.call('ZCARD', KEYS[2])}
