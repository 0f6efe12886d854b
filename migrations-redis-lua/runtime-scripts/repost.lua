-- repost: record a user's repost of an original, one per user and original. Checked in the
-- original's slot, where its delete moves `reposts` aside for the workers: either the delete
-- sees this repost and removes it everywhere, or this finds the original gone.
-- The record's `repost_count` changes in the same step as the set (see like.lua).
-- Slot: the original's `{t:<id>}`.
-- KEYS[1] chirp:{t:<id>}:tweet     the original's record
-- KEYS[2] chirp:{t:<id>}:reposts   who reposted it (zset, score = the repost's tweet id)
-- ARGV[1] the user's id   ARGV[2] the new repost's tweet id (its record already written)
-- Returns the repost id in force: ARGV[2] if it is new, the user's earlier repost otherwise;
-- -1 if the original does not exist.
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
local prior = redis.call("ZSCORE", KEYS[2], ARGV[1])
if prior then
  return tonumber(prior)
end
redis.call("ZADD", KEYS[2], ARGV[2], ARGV[1])
redis.call("HINCRBY", KEYS[1], "repost_count", 1)
return tonumber(ARGV[2])
