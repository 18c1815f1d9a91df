--[[
  A worker says it is alive: its id, scored with the Redis server's clock (ms), so that every reader
  judges liveness by one clock whatever the hosts' clocks say. Ids silent for longer than ARGV[2]
  are dropped here, so the set holds only recent workers.
  KEYS[1] the workers zset
  ARGV[1] worker id   ARGV[2] forget after (ms)
  Returns the server time (ms).
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return now
