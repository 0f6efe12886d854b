-- add_reply: list a reply under its parent, if the parent still exists (its delete drops the
-- list; a reply to a tweet deleted meanwhile keeps its in_reply_to_id and is listed nowhere).
-- The record's `reply_count` changes in the same step as the set (see like.lua).
-- Slot: the parent's `{t:<id>}`.
-- KEYS[1] chirp:{t:<parent>}:tweet     the parent's record
-- KEYS[2] chirp:{t:<parent>}:replies   its direct replies (zset, score = member = reply id)
-- ARGV[1] the reply's tweet id
-- Returns 1 if listed (or already), 0 if the parent is gone.
if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
if redis.call("ZADD", KEYS[2], ARGV[1], ARGV[1]) == 1 then
  redis.call("HINCRBY", KEYS[1], "reply_count", 1)
end
return 1
