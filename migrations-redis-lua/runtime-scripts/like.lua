-- like: record that a user likes a tweet, if the tweet exists. Checked in the tweet's slot,
-- where its delete also drops the likes, so a like never outlives the tweet it likes. Scores
-- are like times made unique in the set (as add_edge.lua does), so the likers' list pages
-- exactly. The record's `like_count` changes in the same step as the set, so it never drifts
-- from the set's size (and a page reads it with the record, not with a ZCARD per tweet).
-- Slot: the tweet's `{t:<id>}`.
-- KEYS[1] chirp:{t:<id>}:tweet   the record
-- KEYS[2] chirp:{t:<id>}:likes   who likes it (zset, score = like time in ms, unique)
-- ARGV[1] the user's id   ARGV[2] now (ms)
-- Returns 1 if newly liked, 0 if it already was, -1 if the tweet does not exist.
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
if redis.call("ZSCORE", KEYS[2], ARGV[1]) then
  return 0
end
local score = tonumber(ARGV[2])
local newest = redis.call("ZRANGE", KEYS[2], 0, 0, "REV", "WITHSCORES")
if newest[2] and tonumber(newest[2]) >= score then
  score = tonumber(newest[2]) + 1
end
redis.call("ZADD", KEYS[2], score, ARGV[1])
redis.call("HINCRBY", KEYS[1], "like_count", 1)
return 1
