--[[
  The start of one attempt, in one round trip: what must be checked before the attempt may touch the
  member, in this order, then the member's fence. Nothing is written unless the fence is taken.
  KEYS[1] cancel mark   KEYS[2] member   KEYS[3] member secret   KEYS[4] job result
  KEYS[5] this attempt's recorded failure   KEYS[6] fence   KEYS[7] run record
  KEYS[8] this attempt's parked run (a finished run another job's attempt moved off the member)
  ARGV[1] token "<jobId>:<attempt>:<workerId>"   ARGV[2] fence ttl in ms
  Optionally the run record this attempt means to write (writeRun's, taken here to save the worker a
  round trip): ARGV[3] the member's work folder and ARGV[4] its OS as the attempt expects them (the
  run directory in the record is built from them), ARGV[5…] the record's field/value pairs. Written
  only if the fence is taken, no record and no parked run is found, and the member still has that
  work folder and OS; otherwise the attempt settles what it found and calls writeRun itself.
  Returns one of
    {'cancelled'}                         the job was cancelled
    {'no_member'}                         the member no longer exists
    {'done', result fields}               the job already succeeded (its lock was lost before completion)
    {'failed', failure}                   this attempt already failed (its failure was lost with the lock)
    {'fenced', holder, pttl}              another attempt holds the member
    {'ready', member fields, has secret, run fields, parked fields, written}
                                          the fence is ours; run fields = a leftover record, parked
                                          fields = this attempt's parked run (each empty if none);
                                          written = 1 if the proposed record was written
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
local run = redis.call('HGETALL', KEYS[7])
local parked = redis.call('HGETALL', KEYS[8])
local written = 0
if #ARGV > 4 and #run == 0 and #parked == 0 then
  local at = redis.call('HMGET', KEYS[2], 'workFolder', 'os')
  if at[1] == ARGV[3] and at[2] == ARGV[4] then
    redis.call('HSET', KEYS[7], 'token', ARGV[1], unpack(ARGV, 5))
    written = 1
  end
end
return {'ready', member, redis.call('EXISTS', KEYS[3]), run, parked, written}
