-- counted_remove: take a member out of one of a tweet's counted sets (its likes, reposts or
-- replies) and its count down with it, in one step, so the count never drifts from the set's
-- size. Nothing to count once the tweet is gone (its delete drops the sets).
-- Slot: the tweet's `{t:<id>}`.
-- KEYS[1] chirp:{t:<id>}:tweet   the record
-- KEYS[2] chirp:{t:<id>}:likes, :reposts or :replies
-- ARGV[1] the member   ARGV[2] the record's count field (`like_count`, `repost_count`, `reply_count`)
-- Returns 1 if the member was removed, 0 if it was not there.
local removed = redis.call("ZREM", KEYS[2], ARGV[1])
if removed == 1 and redis.call("EXISTS", KEYS[1]) == 1 then
  redis.call("HINCRBY", KEYS[1], ARGV[2], -1)
end
return removed
