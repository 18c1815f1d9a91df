--[[
  Extend the fence's TTL only if this token still holds it, and tell whether the attempt's job was
  cancelled. The cancel message (pub/sub) is the fast path and can be lost (a subscriber reconnecting,
  a message that lands before the attempt registered itself); the mark is not, and every renewal reads it.
  KEYS[1] fence   KEYS[2] the job's cancel mark
  ARGV[1] token   ARGV[2] ttl ms
  Returns {held, cancelled}: held 1 if renewed, 0 if the fence is lost (expired or taken);
  cancelled 1 if the job's cancel mark is set.
]]
local held = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  held = 1
end
return {held, redis.call('EXISTS', KEYS[2])}
