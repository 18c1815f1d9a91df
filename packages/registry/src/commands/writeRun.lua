--[[
  Write a new run record (state=starting) — only while this token holds the fence, and never over
  another attempt's record (that one must be killed and deleted first).
  KEYS[1] fence   KEYS[2] run
  ARGV[1] token, then field/value pairs
  Returns 'ok' | 'no_fence' | 'run_exists'
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'no_fence' end
local owner = redis.call('HGET', KEYS[2], 'token')
if owner and owner ~= ARGV[1] then return 'run_exists' end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'token', ARGV[1], unpack(ARGV, 2))
return 'ok'
