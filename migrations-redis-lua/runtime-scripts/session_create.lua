-- session_create: open a login session, pruning the user's expired ones on the way.
-- All sessions of a user are fields of one hash so that logout-all is one DEL and every key
-- stays in the user's slot (Redis 7.0 has no per-field expiry).
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:sessions   (field = session id, value = "<refresh sha256 hex>:<expiry ms>")
-- ARGV[1] session id   ARGV[2] refresh token hash (hex)   ARGV[3] expiry, ms since epoch
-- ARGV[4] now, ms since epoch
-- Returns the number of live sessions after the change.
local fields = redis.call("HGETALL", KEYS[1])
for i = 1, #fields, 2 do
  local sep = string.find(fields[i + 1], ":", 1, true)
  if sep and tonumber(string.sub(fields[i + 1], sep + 1)) <= tonumber(ARGV[4]) then
    redis.call("HDEL", KEYS[1], fields[i])
  end
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2] .. ":" .. ARGV[3])
-- the hash lives as long as its longest session
local ttl = redis.call("PTTL", KEYS[1])
local remaining = tonumber(ARGV[3]) - tonumber(ARGV[4])
if ttl < remaining then
  redis.call("PEXPIRE", KEYS[1], remaining)
end
return redis.call("HLEN", KEYS[1])
