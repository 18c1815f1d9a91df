--[[
  An attempt takes back its own parked run (see parkRun): the record moves back onto the member under
  the new token, so the run is followed to its recorded exit code like any adopted run. Only while
  the new token holds the fence, the member has no run record, and the parked record is that run.
  KEYS[1] fence   KEYS[2] run   KEYS[3] parked record of this attempt   KEYS[4] parked index
  ARGV[1] new token   ARGV[2] token of the parked record   ARGV[3] workerId
  Returns 'ok' | 'no_fence' | 'busy' | 'changed'
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'no_fence' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'busy' end
if redis.call('HGET', KEYS[3], 'token') ~= ARGV[2] then return 'changed' end
redis.call('RENAME', KEYS[3], KEYS[2])
redis.call('ZREM', KEYS[4], KEYS[3])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[2], 'token', ARGV[1], 'workerId', ARGV[3], 'adoptedFrom', ARGV[2], 'state', 'running')
return 'ok'
