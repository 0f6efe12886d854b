-- stream_open: admit one more stream of a user, unless they hold the most allowed already
-- (counting across every API process; lapsed streams of a process that died do not count), and
-- start or prolong recording their live events for the resume window.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:streams   (member `<process>:<stream>`, score = lapse ms)
-- KEYS[2] chirp:{u:<id>}:live      (string with a TTL: record events while it exists)
-- ARGV[1] the new stream's member   ARGV[2] now (ms)   ARGV[3] lapse after (ms)
-- ARGV[4] most streams per user     ARGV[5] the resume window (ms)
-- Returns 1 when admitted, 0 when the user already holds the most.
local now = tonumber(ARGV[2])
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
if redis.call("ZCARD", KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call("ZADD", KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call("PEXPIRE", KEYS[1], ARGV[5])
redis.call("SET", KEYS[2], "1", "PX", ARGV[5])
return 1
