--[[
  Drop another attempt's run record after its run was killed and confirmed gone — only by the
  attempt that holds the member's fence (an attempt that lost it must leave the record to the
  holder: the record may be the holder's to adopt), and only if the record is still that run.
  KEYS[1] fence   KEYS[2] run
  ARGV[1] token of the attempt dropping it   ARGV[2] token of the leftover record
  Returns 'ok' | 'no_fence' | 'changed'
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'no_fence' end
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[2] then return 'changed' end
redis.call('DEL', KEYS[2])
return 'ok'
