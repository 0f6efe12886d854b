#!lua flags=no-writes
-- session_check: is this session still live? (logout and logout-all take effect at once
-- because every authenticated request asks this.) It also reads where the user's general request
-- budget stands. It writes nothing, and says so (the `no-writes` flag), so that Redis serves it
-- while it refuses writes: at `maxmemory`, or paused for writes during a failover. The request is
-- counted by rate_limit_hit.lua, on another connection, best effort.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:sessions
-- KEYS[2] chirp:{u:<id>}:rl:requests   (request counter with a TTL)
-- ARGV[1] session id   ARGV[2] now, ms since epoch
-- Returns {1 when live else 0, requests counted in this window, ms until the window ends (or -2)}.
local value = redis.call("HGET", KEYS[1], ARGV[1])
if not value then
  return {0, 0, 0}
end
local sep = string.find(value, ":", 1, true)
if tonumber(string.sub(value, sep + 1)) <= tonumber(ARGV[2]) then
  return {0, 0, 0}
end
local count = tonumber(redis.call("GET", KEYS[2]) or "0")
return {1, count, redis.call("PTTL", KEYS[2])}
