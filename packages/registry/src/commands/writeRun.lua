--[[
  Write a new run record (state=starting) — only while this token holds the fence, never over
  another attempt's record (that one must be killed and deleted first), and never once the job's
  result or this attempt's failure is recorded: an earlier worker of this attempt may have finished
  the run after it lost the fence, while this one was settling what it left.
  KEYS[1] fence   KEYS[2] run   KEYS[3] job result   KEYS[4] this attempt's recorded failure
  ARGV[1] token, then field/value pairs
  Returns 'ok' | 'no_fence' | 'run_exists' | 'ended'
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'no_fence' end
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[4]) == 1 then return 'ended' end
local owner = redis.call('HGET', KEYS[2], 'token')
if owner and owner ~= ARGV[1] then return 'run_exists' end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'token', ARGV[1], unpack(ARGV, 2))
return 'ok'
