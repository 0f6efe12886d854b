-- Migration 0002: create the fan-out stream and its consumer group reading from the start, so
-- that events posted before any worker ever ran are delivered once one starts. Workers create
-- the group too (idempotently) in case this runs against an older deployment.
-- Slot: {fanout}
-- KEYS[1] chirp:{fanout}:events
-- Returns 1 when the group was created, 0 when it existed.
local ok = pcall(redis.call, "XGROUP", "CREATE", KEYS[1], "fanout", "0", "MKSTREAM")
if ok then return 1 end
return 0
