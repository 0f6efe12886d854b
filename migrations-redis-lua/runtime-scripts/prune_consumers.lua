-- prune_consumers: remove from a fan-out stream's consumer group every consumer that has been
-- idle (no read or claim attempted) longer than ARGV[2] ms and holds no pending entry, except the
-- caller itself. One script, so that nothing can be delivered to a consumer between the check
-- and its XGROUP DELCONSUMER (which would drop its pending entries). A missing stream or group
-- (a fresh or restarted Redis, before the first read recreates it) is nothing to prune.
-- Slot: that of KEYS[1].
-- KEYS[1] the stream (chirp:{fanout}:events or chirp:{fanout}:slices)
-- ARGV[1] the consumer group   ARGV[2] least idle time to prune, ms   ARGV[3] the caller's name
-- Returns the names removed.
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(consumers) == 'table' and consumers.err then
  if string.find(consumers.err, 'NOGROUP', 1, true) or string.find(consumers.err, 'no such key', 1, true) then
    return {}
  end
  return consumers
end
local min_idle = tonumber(ARGV[2])
local pruned = {}
for _, consumer in ipairs(consumers) do
  local info = {}
  for i = 1, #consumer, 2 do
    info[consumer[i]] = consumer[i + 1]
  end
  if info.name ~= ARGV[3] and info.pending == 0 and info.idle > min_idle then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info.name)
    pruned[#pruned + 1] = info.name
  end
end
return pruned
