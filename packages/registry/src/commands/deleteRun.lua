--[[
  Delete the run record only if it belongs to this token (never an unconditional clear).
  KEYS[1] run   ARGV[1] token
]]
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
