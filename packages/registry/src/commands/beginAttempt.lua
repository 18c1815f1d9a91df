--[[
  The start of one attempt, in one round trip: what must be checked before the attempt may touch the
  member, in this order, then the member's fence. Nothing is written unless the fence is taken.
  KEYS[1] cancel mark   KEYS[2] member   KEYS[3] member secret   KEYS[4] job result
  KEYS[5] this attempt's recorded failure   KEYS[6] fence   KEYS[7] run record
  KEYS[8] this attempt's parked run (a finished run another job's attempt moved off the member)
  ARGV[1] token "<jobId>:<attempt>:<workerId>"   ARGV[2] fence ttl in ms
  Returns one of
    {'cancelled'}                         the job was cancelled
    {'no_member'}                         the member no longer exists
    {'done', result fields}               the job already succeeded (its lock was lost before completion)
    {'failed', failure}                   this attempt already failed (its failure was lost with the lock)
    {'fenced', holder, pttl}              another attempt holds the member
    {'ready', member fields, has secret, run fields, parked fields}
                                          the fence is ours; run fields = a leftover record, parked
                                          fields = this attempt's parked run (each empty if none)
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return {'cancelled'} end
local member = redis.call('HGETALL', KEYS[2])
if #member == 0 then return {'no_member'} end
local result = redis.call('HGETALL', KEYS[4])
if #result > 0 then return {'done', result} end
local failed = redis.call('GET', KEYS[5])
if failed then return {'failed', failed} end
local holder = redis.call('GET', KEYS[6])
if holder and holder ~= ARGV[1] then return {'fenced', holder, redis.call('PTTL', KEYS[6])} end
redis.call('SET', KEYS[6], ARGV[1], 'PX', ARGV[2])
return {'ready', member, redis.call('EXISTS', KEYS[3]), redis.call('HGETALL', KEYS[7]), redis.call('HGETALL', KEYS[8])}
