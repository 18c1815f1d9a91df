--[[
  Append a batch of entries to a job's live output stream, in one round trip (one XADD per entry,
  so readers still get one entry per line and the cap still counts lines). Every entry carries its
  number `n` (1, 2, 3, … over the job's whole output, across attempts and workers), so a reader that
  finds a jump knows exactly how many entries the cap trimmed before it read them.
  KEYS[1] output stream   KEYS[2] the stream's entry counter
  ARGV[1] cap: max entries kept (approximate, MAXLEN ~)   ARGV[2] TTL seconds to set (0 = leave it)
  then type/data pairs, in order
  Returns the number of the last entry added (0 if none).
]]
local count = math.floor((#ARGV - 2) / 2)
if count <= 0 then return 0 end
local last = redis.call('INCRBY', KEYS[2], count)
local n = last - count
for i = 3, #ARGV - 1, 2 do
  n = n + 1
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[i], 'data', ARGV[i + 1], 'n', n)
end
if ARGV[2] ~= '0' then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return last
