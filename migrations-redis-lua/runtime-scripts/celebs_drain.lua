-- celebs_drain: a large account going back to fan-out on write hands one follower the tweets
-- that follower's home reads merged in: they are inserted (by the rules the fan-out applies to
-- each kind of tweet) and the account leaves the follower's `celebs`, in one atomic step, so
-- no read sees them twice or not at all.
-- Slot: the follower's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:home   KEYS[2] chirp:{u:<id>}:following   KEYS[3] chirp:{u:<id>}:celebs
-- KEYS[4] chirp:{u:<id>}:mutes  KEYS[5] chirp:{u:<id>}:blocks
-- ARGV[1] the follower's id   ARGV[2] the account's id   ARGV[3] the home timeline cap
-- ARGV[4..] triples: tweet id, kind (0 tweet, 1 reply, 2 repost), the replied-to author or the
--           original's author (0 for a tweet)
-- Returns the number of ids newly added.
redis.call("ZREM", KEYS[3], ARGV[2])
if not redis.call("ZSCORE", KEYS[2], ARGV[2]) or redis.call("ZSCORE", KEYS[4], ARGV[2]) then
  return 0
end
-- No home (expired with inactivity, evicted): nothing to hand over, and none to create without
-- its TTL and built marker; the rebuild on the next read merges these tweets, which are no
-- longer merged on read once the account is out of `celebs`.
if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
local added = 0
for i = 4, #ARGV, 3 do
  local kind, other = ARGV[i + 1], ARGV[i + 2]
  local ok = true
  if kind == "1" then
    ok = other == ARGV[1] or redis.call("ZSCORE", KEYS[2], other) ~= false
  elseif kind == "2" then
    ok = not redis.call("ZSCORE", KEYS[4], other) and not redis.call("ZSCORE", KEYS[5], other)
  end
  if ok then
    added = added + redis.call("ZADD", KEYS[1], ARGV[i], ARGV[i])
  end
end
redis.call("ZREMRANGEBYRANK", KEYS[1], 1, -(tonumber(ARGV[3]) + 1))
return added
