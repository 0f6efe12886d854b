-- delete_tweet: delete a tweet if and only if the requester wrote it. Deleting the record is the
-- commit point: readers skip timeline ids whose record is gone (and reposts whose original is
-- gone), so the removals from timelines that follow (synchronously for the author, through the
-- fan-out stream for followers) only reclaim memory and never decide what a client sees.
-- Its likes and replies lists go with it; its reposts are moved aside (`reposts_gone`) for a
-- worker to remove each of them everywhere. A repost is not deleted here: the caller undoes it.
-- Slot: the tweet's `{t:<id>}`.
-- KEYS[1] chirp:{t:<id>}:tweet          KEYS[2] chirp:{t:<id>}:likes
-- KEYS[3] chirp:{t:<id>}:reposts        KEYS[4] chirp:{t:<id>}:reposts_gone
-- KEYS[5] chirp:{t:<id>}:replies
-- ARGV[1] requester's user id
-- Returns {"deleted", the parent's id or "", reposts moved aside}, {"repost", the original's
-- id}, {"not_found"} or {"forbidden"}.
local record = redis.call("HMGET", KEYS[1], "author", "repost_of", "reply_to")
if not record[1] then
  return {"not_found"}
end
if record[1] ~= ARGV[1] then
  return {"forbidden"}
end
if record[2] then
  return {"repost", record[2]}
end
redis.call("DEL", KEYS[1], KEYS[2], KEYS[5])
local reposts = redis.call("ZCARD", KEYS[3])
if reposts > 0 then
  redis.call("ZUNIONSTORE", KEYS[4], 2, KEYS[4], KEYS[3])
  redis.call("DEL", KEYS[3])
end
return {"deleted", record[3] or "", reposts}
