--[[
  After a successful run: the member's new session id and token usage, the job's result (so a
  re-delivered job — e.g. after its lock was lost in a Redis outage — returns it instead of running
  again), the run record deleted and the fence released, the fleet counters. Atomic; run record and
  fence only for the owning token.
  KEYS[1] member   KEYS[2] run   KEYS[3] fence   KEYS[4] job result hash   KEYS[5] stats
  ARGV[1] token   ARGV[2] session id ('' = keep)   ARGV[3] tokens in   ARGV[4] tokens out   ARGV[5] now
  ARGV[6] result TTL seconds   ARGV[7] run duration ms, then result field/value pairs
  Returns {run deleted, fence released}
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'sessionId', ARGV[2]) end
  redis.call('HINCRBY', KEYS[1], 'tokensIn', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'tokensOut', ARGV[4])
  redis.call('HSET', KEYS[1], 'updatedAt', ARGV[5])
end
if #ARGV > 7 then
  redis.call('DEL', KEYS[4])
  redis.call('HSET', KEYS[4], unpack(ARGV, 8))
  redis.call('EXPIRE', KEYS[4], ARGV[6])
end
redis.call('HINCRBY', KEYS[5], 'jobs_completed', 1)
redis.call('HINCRBY', KEYS[5], 'run_count', 1)
redis.call('HINCRBY', KEYS[5], 'run_ms_sum', ARGV[7])
local run = 0
if redis.call('HGET', KEYS[2], 'token') == ARGV[1] then run = redis.call('DEL', KEYS[2]) end
local fence = 0
if redis.call('GET', KEYS[3]) == ARGV[1] then fence = redis.call('DEL', KEYS[3]) end
return {run, fence}
