-- Compare-and-set of one user's record.
-- KEYS[1]  the user's record: a hash {v = version, d = JSON}
-- ARGV[1]  the version the caller read (0 when the record was absent)
-- ARGV[2]  the new JSON
-- ARGV[3]  time to live in ms once the user has no session (0: keep the record forever
--          while they have one)
-- Returns 1 when written, 0 when the record changed since it was read (retry).
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'v', current + 1, 'd', ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  redis.call('PERSIST', KEYS[1])
end
return 1
