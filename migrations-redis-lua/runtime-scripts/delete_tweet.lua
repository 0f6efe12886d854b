-- delete_tweet: delete a tweet if and only if the requester wrote it. Deleting the record is the
-- commit point: readers skip timeline ids whose record is gone, so the removals from timelines
-- that follow (synchronously for the author, through the fan-out stream for followers) only
-- reclaim memory and never decide what a client sees.
-- Slot: the tweet's `{t:<id>}`.
-- KEYS[1] chirp:{t:<id>}:tweet
-- ARGV[1] requester's user id
-- Returns "deleted", "not_found" or "forbidden".
local author = redis.call("HGET", KEYS[1], "author")
if not author then
  return "not_found"
end
if author ~= ARGV[1] then
  return "forbidden"
end
redis.call("DEL", KEYS[1])
return "deleted"
