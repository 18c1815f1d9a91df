--[[
  A new attempt of the same job adopts a still-running run: the record moves to the new token,
  only while the new token holds the fence and the record still has the old token.
  KEYS[1] fence   KEYS[2] run
  ARGV[1] old token   ARGV[2] new token   ARGV[3] workerId
  Returns 1 if adopted, 0 otherwise.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'token', ARGV[2], 'workerId', ARGV[3], 'adoptedFrom', ARGV[1])
return 1
