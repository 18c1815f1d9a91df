--[[
  Acquire (or re-acquire) a member's fence for one attempt.
  KEYS[1] fence key
  ARGV[1] token "<jobId>:<attempt>:<workerId>"   ARGV[2] ttl in ms
  Returns {1, token, pttl} when this token holds the fence now, {0, holder, pttl} otherwise.
]]
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, ARGV[1], tonumber(ARGV[2])}
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, cur, tonumber(ARGV[2])}
end
return {0, cur, redis.call('PTTL', KEYS[1])}
