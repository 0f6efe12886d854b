-- session_rotate: trade a refresh token for a new one. Presenting anything but the current
-- token (an already-rotated one, typically a stolen copy) ends the session for everyone who
-- holds it, as OAuth 2.0 Security BCP section 4.14 recommends.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:sessions
-- ARGV[1] session id   ARGV[2] presented refresh hash (hex)   ARGV[3] new refresh hash (hex)
-- ARGV[4] new expiry, ms since epoch   ARGV[5] now, ms since epoch
-- Returns "rotated", "unknown" (no such live session) or "reused" (session now revoked).
local value = redis.call("HGET", KEYS[1], ARGV[1])
if not value then
  return "unknown"
end
local sep = string.find(value, ":", 1, true)
if tonumber(string.sub(value, sep + 1)) <= tonumber(ARGV[5]) then
  redis.call("HDEL", KEYS[1], ARGV[1])
  return "unknown"
end
if string.sub(value, 1, sep - 1) ~= ARGV[2] then
  redis.call("HDEL", KEYS[1], ARGV[1])
  return "reused"
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[3] .. ":" .. ARGV[4])
local remaining = tonumber(ARGV[4]) - tonumber(ARGV[5])
if redis.call("PTTL", KEYS[1]) < remaining then
  redis.call("PEXPIRE", KEYS[1], remaining)
end
return "rotated"
