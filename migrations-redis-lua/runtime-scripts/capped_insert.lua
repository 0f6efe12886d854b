-- capped_insert: add tweet ids to a timeline and keep only its newest entries.
-- Slot: that of KEYS[1] (the global timeline lives alone in `{global}`).
-- KEYS[1] a timeline zset (score = member = tweet id)
-- ARGV[1] cap   ARGV[2..] tweet ids
-- Returns the number of ids newly added.
local added = 0
for i = 2, #ARGV do
  added = added + redis.call("ZADD", KEYS[1], ARGV[i], ARGV[i])
end
redis.call("ZREMRANGEBYRANK", KEYS[1], 0, -(tonumber(ARGV[1]) + 1))
return added
