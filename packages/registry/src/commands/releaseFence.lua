--[[
  Release the fence only if this token holds it (never someone else's).
  KEYS[1] fence   ARGV[1] token
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
