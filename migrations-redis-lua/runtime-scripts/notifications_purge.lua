-- notifications_purge: remove every notification of one actor (someone the user just blocked
-- or muted). At most the 1,000 kept notifications are looked at.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:notifications   KEYS[2] chirp:{u:<id>}:notif_at
-- ARGV[1] the actor's id
-- Returns how many were removed.
local needle = ":" .. ARGV[1] .. ":"
local removed = 0
for _, member in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
  -- Members are `<type>:<actor>:<tweet>`: only the actor sits between two colons.
  if string.find(member, needle, 1, true) then
    redis.call("ZREM", KEYS[1], member)
    redis.call("HDEL", KEYS[2], member)
    removed = removed + 1
  end
end
return removed
