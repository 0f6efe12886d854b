-- session_check: is this session still live? (logout and logout-all take effect at once
-- because every authenticated request asks this.) In the same step, count the request against
-- the user's general request budget, so that limit costs no extra round trip.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:sessions
-- KEYS[2] chirp:{u:<id>}:rl:requests   (request counter with a TTL)
-- ARGV[1] session id   ARGV[2] now, ms since epoch
-- ARGV[3] budget window in ms, or 0 to count nothing (rate limits off)
-- Returns {1 when live else 0, requests counted in this window, ms until the window ends}.
local value = redis.call("HGET", KEYS[1], ARGV[1])
if not value then
  return {0, 0, 0}
end
local sep = string.find(value, ":", 1, true)
if tonumber(string.sub(value, sep + 1)) <= tonumber(ARGV[2]) then
  return {0, 0, 0}
end
if ARGV[3] == "0" then
  return {1, 0, 0}
end
local count = redis.call("INCR", KEYS[2])
if count == 1 then
  redis.call("PEXPIRE", KEYS[2], ARGV[3])
end
local ttl = redis.call("PTTL", KEYS[2])
if ttl < 0 then
  redis.call("PEXPIRE", KEYS[2], ARGV[3])
  ttl = tonumber(ARGV[3])
end
return {1, count, ttl}
