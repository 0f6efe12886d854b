-- notifications_read: move a user's read marker forward to a notification id, never back,
-- and never past the newest notification (so that later ones still count as unread).
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:notif_read   KEYS[2] chirp:{u:<id>}:notifications
-- ARGV[1] the id read up to
-- Returns the marker after the call.
local newest = redis.call("ZRANGE", KEYS[2], -1, -1, "WITHSCORES")
local want = math.min(tonumber(ARGV[1]), tonumber(newest[2] or "0"))
local current = tonumber(redis.call("GET", KEYS[1]) or "0")
if want > current then
  redis.call("SET", KEYS[1], want)
  return want
end
return current
