-- add_edge: record one side of a follow (or a block or mute) in a sorted set scored by time,
-- keeping the first time on a repeat and making every score in the set unique (a follow in the same
-- millisecond as the newest one gets newest + 1). Unique integer scores below 2^53 are what make
-- score-based cursors exact: a page boundary never falls between two equal scores.
-- Slot: that of KEYS[1].
-- KEYS[1] chirp:{u:<a>}:following, chirp:{u:<b>}:followers, chirp:{u:<a>}:blocks or :mutes
-- ARGV[1] member (user id)   ARGV[2] now, milliseconds since the Unix epoch
-- Returns {1 if newly added else 0, score as a string}.
local existing = redis.call("ZSCORE", KEYS[1], ARGV[1])
if existing then
  return {0, existing}
end
local score = tonumber(ARGV[2])
local newest = redis.call("ZRANGE", KEYS[1], 0, 0, "REV", "WITHSCORES")
if newest[2] and tonumber(newest[2]) >= score then
  score = tonumber(newest[2]) + 1
end
redis.call("ZADD", KEYS[1], score, ARGV[1])
return {1, string.format("%d", score)}
