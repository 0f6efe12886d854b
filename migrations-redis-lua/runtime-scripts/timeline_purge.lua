-- timeline_purge: remove an author's tweets from one home timeline after an unfollow, but only
-- if the owner has not followed the author again in the meantime.
-- Slot: the owner's `{u:<id>}`.
-- KEYS[1] chirp:{u:<owner>}:home        KEYS[2] chirp:{u:<owner>}:following
-- ARGV[1] owner id   ARGV[2] author id   ARGV[3..] tweet ids
-- Returns the number of ids removed.
if ARGV[1] == ARGV[2] or redis.call("ZSCORE", KEYS[2], ARGV[2]) then
  return 0
end
local removed = 0
for i = 3, #ARGV do
  removed = removed + redis.call("ZREM", KEYS[1], ARGV[i])
end
return removed
