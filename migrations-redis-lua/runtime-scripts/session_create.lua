-- session_create: open a login session, pruning the user's expired ones on the way.
-- All sessions of a user are fields of one hash so that logout-all is one DEL and every key
-- stays in the user's slot (Redis 7.0 has no per-field expiry). The hash has no TTL: expired
-- sessions are pruned here and by session_rotate, and a key without a TTL is one a
-- `volatile-lru` Redis never evicts (evicting it would log its user out).
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
-- A TTL left by an older version goes: this hash must not be evictable.
redis.call("PERSIST", KEYS[1])
return redis.call("HLEN", KEYS[1])
