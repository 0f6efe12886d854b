-- Migration 0001: start the id sequences so that user ids begin at 1000 and tweet ids at 10000
-- (short ids that still read as ids, and never 0). Idempotent: SET NX keeps a sequence that
-- already runs.
-- Slot: {seq}
-- KEYS[1] chirp:{seq}:user
-- KEYS[2] chirp:{seq}:tweet
-- Returns the number of sequences started.
local started = 0
if redis.call("SET", KEYS[1], 999, "NX") then started = started + 1 end
if redis.call("SET", KEYS[2], 9999, "NX") then started = started + 1 end
return started
