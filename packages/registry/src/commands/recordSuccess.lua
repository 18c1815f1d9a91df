--[[
  After a successful run: the member's new session id and token usage, and the run record and
  fence released — atomically, and only for the token that owns them.
  KEYS[1] member   KEYS[2] run   KEYS[3] fence
  ARGV[1] token   ARGV[2] session id ('' = keep)   ARGV[3] tokens in   ARGV[4] tokens out   ARGV[5] now
  Returns {run deleted, fence released}
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'sessionId', ARGV[2]) end
  redis.call('HINCRBY', KEYS[1], 'tokensIn', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'tokensOut', ARGV[4])
  redis.call('HSET', KEYS[1], 'updatedAt', ARGV[5])
end
local run = 0
if redis.call('HGET', KEYS[2], 'token') == ARGV[1] then run = redis.call('DEL', KEYS[2]) end
local fence = 0
if redis.call('GET', KEYS[3]) == ARGV[1] then fence = redis.call('DEL', KEYS[3]) end
return {run, fence}
