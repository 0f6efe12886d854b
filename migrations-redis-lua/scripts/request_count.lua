-- request_count: count one authenticated request against the user's general request budget, in
-- a fixed window that starts with the window's first request.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:rl:requests   (request counter with a TTL)
-- ARGV[1] budget window in ms
-- Returns {requests counted in this window, ms until the window ends}.
local count = redis.call("INCR", KEYS[1])
local ttl = redis.call("PTTL", KEYS[1])
if count == 1 or ttl < 0 then
  -- A new window (or a counter without expiry, written by hand): it ends a window from now.
  redis.call("PEXPIRE", KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
