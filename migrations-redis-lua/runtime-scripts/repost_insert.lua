-- repost_insert: put a repost into one follower's home timeline, unless the follower does not
-- follow the reposter (any more), hides the reposter or the original's author, or already shows
-- the original or another repost of it among their newest 40 entries (API.md's dedupe rule).
-- The check costs a few O(log n) lookups, not a read of 40 entries: the original's own rank,
-- and the rank of the repost of it shown last (`home_src`, original -> that repost's id).
-- Slot: the follower's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:home       KEYS[2] chirp:{u:<id>}:following
-- KEYS[3] chirp:{u:<id>}:home_src   original -> the newest repost of it put in the home
-- KEYS[4] chirp:{u:<id>}:mutes      KEYS[5] chirp:{u:<id>}:blocks
-- ARGV[1] the follower's id   ARGV[2] the reposter's id   ARGV[3] the home timeline cap
-- ARGV[4] the repost's id     ARGV[5] the original's id   ARGV[6] the original's author
-- Returns 1 if inserted, 0 if not.
local window = 40
if ARGV[1] ~= ARGV[2] and not redis.call("ZSCORE", KEYS[2], ARGV[2]) then
  return 0
end
if redis.call("ZSCORE", KEYS[4], ARGV[2]) or redis.call("ZSCORE", KEYS[4], ARGV[6])
    or redis.call("ZSCORE", KEYS[5], ARGV[6]) then
  return 0
end
local shown = redis.call("ZREVRANK", KEYS[1], ARGV[5])
if shown and shown < window then
  return 0
end
local last = redis.call("HGET", KEYS[3], ARGV[5])
if last then
  if last == ARGV[4] then
    return 0
  end
  local rank = redis.call("ZREVRANK", KEYS[1], last)
  if rank and rank < window then
    return 0
  end
end
redis.call("ZADD", KEYS[1], ARGV[4], ARGV[4])
redis.call("HSET", KEYS[3], ARGV[5], ARGV[4])
-- From rank 1: rank 0 is the home\'s built marker (member "0", score 0; keys.rs).
redis.call("ZREMRANGEBYRANK", KEYS[1], 1, -(tonumber(ARGV[3]) + 1))
-- Only reposts among the newest entries matter: once the map outgrows them, drop the others.
if redis.call("HLEN", KEYS[3]) > 2 * window then
  local map = redis.call("HGETALL", KEYS[3])
  for i = 1, #map, 2 do
    local rank = redis.call("ZREVRANK", KEYS[1], map[i + 1])
    if not rank or rank >= window then
      redis.call("HDEL", KEYS[3], map[i])
    end
  end
end
return 1
