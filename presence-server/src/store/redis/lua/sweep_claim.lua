-- Claims the cleanup of a node whose lease expired, so that one node does it.
-- KEYS[1]  the dead node's lease
-- KEYS[2]  the claim: a string that expires
-- ARGV[1]  the claiming node's id
-- ARGV[2]  claim time to live (ms): another node may retry after it
-- Returns 1 if this node owns the cleanup, 0 if the node is alive again or another
-- node claimed it.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
