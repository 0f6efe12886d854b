-- follower_chunk: one chunk of a fan-out's walk over an author's followers, oldest follow
-- first: up to ARGV[3] follower ids with follow scores within (ARGV[1], ARGV[2]) as ZRANGE
-- BYSCORE bounds, and, when there were that many, the last one's score (where the next chunk
-- starts). One script rather than a MULTI of two ZRANGEs: both reads still see one state, and
-- a script follows a cluster's MOVED and ASK redirects where a transaction is aborted.
-- Slot: that of KEYS[1].
-- KEYS[1] chirp:{u:<id>}:followers
-- ARGV[1] lower bound ("-inf" or "(<score>")   ARGV[2] upper bound ("+inf" or "<score>")
-- ARGV[3] how many, at least 1
-- Returns {ids, score}: the ids, and the last one's score as a string ("" when fewer came).
local n = tonumber(ARGV[3])
local ids = redis.call("ZRANGE", KEYS[1], ARGV[1], ARGV[2], "BYSCORE", "LIMIT", 0, n)
local last = ""
if #ids == n then
  last = redis.call("ZSCORE", KEYS[1], ids[n])
end
return {ids, last}
