--[[
  Extend the fence's TTL only if this token still holds it.
  KEYS[1] fence   ARGV[1] token   ARGV[2] ttl ms
  Returns 1 if renewed, 0 if the fence is lost (expired or taken).
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
