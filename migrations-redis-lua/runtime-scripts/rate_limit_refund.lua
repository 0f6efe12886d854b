-- rate_limit_refund: give back a place taken with rate_limit_reserve.lua (the work did not
-- count: a login that succeeded, a password check the server was too busy to make). The window
-- keeps its end; a counter that has expired meanwhile stays gone.
-- Slot: that of KEYS[1].
-- KEYS[1] the counter: chirp:{rl:<kind>:<subject>}
-- Returns the places still taken.
local count = tonumber(redis.call("GET", KEYS[1]) or "0")
if count <= 0 then
  return 0
end
return redis.call("DECR", KEYS[1])
