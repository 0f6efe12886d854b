-- rate_limit_reserve: take one of a window's `max` places before doing the limited work (a
-- password check), so that however many requests arrive at once, no more than `max` get one.
-- A place is given back with rate_limit_refund.lua when the work turns out not to count.
-- Slot: that of KEYS[1] (each limited subject has its own key).
-- KEYS[1] the counter (string with a TTL): chirp:{rl:<kind>:<subject>}
-- ARGV[1] max places per window   ARGV[2] window length in ms
-- Returns {1 when a place was taken else 0, places taken in this window, ms until it ends}.
local count = tonumber(redis.call("GET", KEYS[1]) or "0")
local ttl = redis.call("PTTL", KEYS[1])
if count >= tonumber(ARGV[1]) and ttl > 0 then
  return {0, count, ttl}
end
if ttl < 0 then
  -- No window yet (or a counter without expiry, written by hand): a fresh one starts now.
  count = 0
  redis.call("SET", KEYS[1], 1, "PX", ARGV[2])
  return {1, 1, tonumber(ARGV[2])}
end
count = redis.call("INCR", KEYS[1])
return {1, count, ttl}
