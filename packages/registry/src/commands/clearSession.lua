--[[
  Forget a member's session id after the agent said it does not exist — only if it is still that id.
  KEYS[1] member   ARGV[1] stale session id   ARGV[2] now (ms)
]]
if redis.call('HGET', KEYS[1], 'sessionId') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'sessionId')
  redis.call('HSET', KEYS[1], 'updatedAt', ARGV[2])
  return 1
end
return 0
