--[[
  Set fields of a run record (pid, identity, state, output offset) only if the record still belongs
  to this token. A late attempt can never overwrite a newer attempt's PID.
  KEYS[1] run   ARGV[1] token, then field/value pairs
  Returns 1 if written, 0 if the record is gone or belongs to another token.
]]
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
