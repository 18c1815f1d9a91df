--[[
  An attempt's end in its job's history, with its recorded failure (a re-delivery of that attempt
  reports it again instead of running), and what it cost added to the member's total — once: an
  entry already there is replaced without counting its cost again.
  KEYS[1] attempts hash   KEYS[2] attempt failure   KEYS[3] member
  ARGV[1] field   ARGV[2] record JSON   ARGV[3] TTL seconds   ARGV[4] failure ('' = none)   ARGV[5] cost USD ('' = none)
  Returns 1 if the entry is new
]]
if ARGV[4] ~= '' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[3]) end
local new = redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local cost = tonumber(ARGV[5])
if new == 1 and cost and cost > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('HINCRBYFLOAT', KEYS[3], 'costUsd', ARGV[5])
end
return new
