--[[
  How many workers said they were alive within the last ARGV[1] ms, by the Redis server's clock.
  KEYS[1] the workers zset
  ARGV[1] within (ms)
  Returns the count.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
