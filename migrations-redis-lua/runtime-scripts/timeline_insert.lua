-- timeline_insert: put tweets of one author into one home timeline, but only while the owner
-- still follows that author (or is the author). Used by fan-out and by the follow back-fill;
-- checking the follow edge here, atomically with the insert, is what stops a fan-out that read
-- the follower list before an unfollow from writing the unfollowed tweets back afterwards.
-- Idempotent: re-adding a member with the same score changes nothing.
-- Slot: the owner's `{u:<id>}`.
-- KEYS[1] chirp:{u:<owner>}:home        KEYS[2] chirp:{u:<owner>}:following
-- ARGV[1] owner id   ARGV[2] author id   ARGV[3] cap   ARGV[4..] tweet ids
-- Returns the number of ids newly added (0 when the owner no longer follows the author).
if ARGV[1] ~= ARGV[2] and not redis.call("ZSCORE", KEYS[2], ARGV[2]) then
  return 0
end
local added = 0
for i = 4, #ARGV do
  added = added + redis.call("ZADD", KEYS[1], ARGV[i], ARGV[i])
end
-- From rank 1: rank 0 is the home\'s built marker (member "0", score 0; keys.rs).
redis.call("ZREMRANGEBYRANK", KEYS[1], 1, -(tonumber(ARGV[3]) + 1))
return added
