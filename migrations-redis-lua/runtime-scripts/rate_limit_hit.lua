-- rate_limit_hit: count one event in a fixed window that starts with the window's first event.
-- Slot: that of KEYS[1] (each limited subject has its own key).
-- KEYS[1] chirp:{rl:<kind>:<subject>}, or chirp:{u:<id>}:rl:requests for the request budget
--         (string counter with a TTL)
-- ARGV[1] window length in ms
-- Returns {count in this window, ms until the window ends}.
local count = redis.call("INCR", KEYS[1])
if count == 1 then
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
end
local ttl = redis.call("PTTL", KEYS[1])
if ttl < 0 then
  -- A counter without expiry (written by hand, or an interrupted first hit): repair it.
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
