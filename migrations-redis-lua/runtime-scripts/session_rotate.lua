-- session_rotate: trade a refresh token for a new one. Presenting a token that was really
-- issued for this session but already rotated away (typically a stolen copy) ends the session
-- for everyone who holds it, as OAuth 2.0 Security BCP section 4.14 recommends. A token that was
-- never issued (anyone can read the session id in an access token and make one up) is just
-- unknown: it must not give its maker the power to end someone's session.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:sessions   (field = session id, value = "<refresh sha256 hex>:<expiry ms>")
-- KEYS[2] chirp:{u:<id>}:rotated    (zset; member = "<session id>:<rotated-away refresh sha256>",
--         score = that session's expiry in ms, so entries go once their session could not live)
-- ARGV[1] session id   ARGV[2] presented refresh hash (hex)   ARGV[3] new refresh hash (hex)
-- ARGV[4] new expiry, ms since epoch   ARGV[5] now, ms since epoch
-- ARGV[6] most rotated-away hashes kept per user (the newest are kept)
-- Returns "rotated", "unknown" (no such live session, or a token never issued for it) or
-- "reused" (session now revoked).
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", ARGV[5])
local value = redis.call("HGET", KEYS[1], ARGV[1])
if not value then
  return "unknown"
end
local sep = string.find(value, ":", 1, true)
if tonumber(string.sub(value, sep + 1)) <= tonumber(ARGV[5]) then
  redis.call("HDEL", KEYS[1], ARGV[1])
  return "unknown"
end
local current = string.sub(value, 1, sep - 1)
if current ~= ARGV[2] then
  if redis.call("ZSCORE", KEYS[2], ARGV[1] .. ":" .. ARGV[2]) then
    redis.call("HDEL", KEYS[1], ARGV[1])
    return "reused"
  end
  return "unknown"
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[3] .. ":" .. ARGV[4])
redis.call("ZADD", KEYS[2], ARGV[4], ARGV[1] .. ":" .. current)
redis.call("ZREMRANGEBYRANK", KEYS[2], 0, -(tonumber(ARGV[6]) + 1))
-- No TTLs (see session_create): both keys are pruned by time here.
for _, key in ipairs(KEYS) do
  redis.call("PERSIST", key)
end
return "rotated"
