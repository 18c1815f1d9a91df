--[[
  Park another job's *finished* run (exit code recorded, tree confirmed gone) instead of dropping it:
  the record moves off the member to its own attempt's key, so that attempt, delivered again, takes
  its exit code and output rather than running the agent a second time. Only by the fence holder,
  and only if the record is still that run. The member is free once it returns 'ok'.
  KEYS[1] fence   KEYS[2] run   KEYS[3] parked record of the run's attempt   KEYS[4] parked index
  ARGV[1] token of the attempt parking it   ARGV[2] token of the leftover record   ARGV[3] ttl in s
  ARGV[4] now (ms)
  Returns 'ok' | 'no_fence' | 'changed'
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'no_fence' end
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] then return 'changed' end
redis.call('RENAME', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[3], 'state', 'parked')
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], tonumber(ARGV[4]) + tonumber(ARGV[3]) * 1000, KEYS[3])
return 'ok'
