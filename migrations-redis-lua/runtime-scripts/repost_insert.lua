-- repost_insert: put a repost into one follower's home timeline, unless the follower does not
-- follow the reposter (any more), hides the reposter or the original's author, or already shows
-- the original or another repost of it among their newest 40 entries (API.md's dedupe rule).
-- Slot: the follower's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:home       KEYS[2] chirp:{u:<id>}:following
-- KEYS[3] chirp:{u:<id>}:home_src   repost entry -> its original, for the newest entries
-- KEYS[4] chirp:{u:<id>}:mutes      KEYS[5] chirp:{u:<id>}:blocks
-- ARGV[1] the follower's id   ARGV[2] the reposter's id   ARGV[3] the home timeline cap
-- ARGV[4] the repost's id     ARGV[5] the original's id   ARGV[6] the original's author
-- Returns 1 if inserted, 0 if not.
local recent_n = 40
if ARGV[1] ~= ARGV[2] and not redis.call("ZSCORE", KEYS[2], ARGV[2]) then
  return 0
end
if redis.call("ZSCORE", KEYS[4], ARGV[2]) or redis.call("ZSCORE", KEYS[4], ARGV[6])
    or redis.call("ZSCORE", KEYS[5], ARGV[6]) then
  return 0
end
local recent = redis.call("ZRANGE", KEYS[1], 0, recent_n - 1, "REV")
for _, entry in ipairs(recent) do
  if entry == ARGV[5] or entry == ARGV[4] then
    return 0
  end
end
if #recent > 0 then
  for _, source in ipairs(redis.call("HMGET", KEYS[3], unpack(recent))) do
    if source == ARGV[5] then
      return 0
    end
  end
end
redis.call("ZADD", KEYS[1], ARGV[4], ARGV[4])
redis.call("HSET", KEYS[3], ARGV[4], ARGV[5])
redis.call("ZREMRANGEBYRANK", KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
-- Only the newest entries' sources matter: once the map outgrows them, drop the others.
if redis.call("HLEN", KEYS[3]) > 2 * recent_n then
  for _, entry in ipairs(redis.call("HKEYS", KEYS[3])) do
    local rank = redis.call("ZREVRANK", KEYS[1], entry)
    if not rank or rank >= recent_n then
      redis.call("HDEL", KEYS[3], entry)
    end
  end
end
return 1
