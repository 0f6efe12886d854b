-- notify: give a user one notification, unless they already have it or hide its actor. The
-- member names the action (`<type>:<actor>:<tweet or 0>`), so a redelivered event finds it and
-- adds nothing: notifications are exactly once by construction, with no table of events seen.
-- Slot: the recipient's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:notifications   (zset, score = notification id)
-- KEYS[2] chirp:{u:<id>}:notif_at        member -> creation time (ms)
-- KEYS[3] chirp:{u:<id>}:notif_seq       the recipient's notification ids
-- KEYS[4] chirp:{u:<id>}:blocks   KEYS[5] chirp:{u:<id>}:mutes
-- ARGV[1] member   ARGV[2] the actor's id   ARGV[3] now (ms)   ARGV[4] how many to keep
-- Returns the new notification's id, or 0 when nothing was added.
if redis.call("ZSCORE", KEYS[1], ARGV[1]) then
  return 0
end
if redis.call("ZSCORE", KEYS[4], ARGV[2]) or redis.call("ZSCORE", KEYS[5], ARGV[2]) then
  return 0
end
local id = redis.call("INCR", KEYS[3])
redis.call("ZADD", KEYS[1], id, ARGV[1])
redis.call("HSET", KEYS[2], ARGV[1], ARGV[3])
local over = redis.call("ZCARD", KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  local old = redis.call("ZRANGE", KEYS[1], 0, over - 1)
  redis.call("ZREMRANGEBYRANK", KEYS[1], 0, over - 1)
  redis.call("HDEL", KEYS[2], unpack(old))
end
return id
