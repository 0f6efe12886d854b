-- post_tweet: make a freshly stored tweet visible to its author, deciding an
-- Idempotency-Key race and the author's tweet limit in the same atomic step. A retry of a key
-- already used is answered before the limit is looked at, so retries never use up the quota.
-- Idempotency records carry no TTL (so a `volatile-*` maxmemory policy never evicts one, which
-- would let a retry post twice): they expire by the time in `idem_exp`, and each call prunes
-- a few expired ones.
-- Slot: the author's `{u:<id>}`; every key below lives in it.
-- KEYS[1] chirp:{u:<author>}:tweets   user timeline (zset, score = member = tweet id)
-- KEYS[2] chirp:{u:<author>}:home     home timeline (zset, capped)
-- KEYS[3] chirp:{u:<author>}:idem     idempotency records (hash: sha256(key) -> "<id>:<fingerprint>")
-- KEYS[4] chirp:{u:<author>}:rl:tweets   tweets in the current limit window (string with a TTL)
-- KEYS[5] chirp:{u:<author>}:idem_exp   when each record expires (zset: sha256(key), score = ms)
-- KEYS[6] chirp:{u:<author>}:idem:<sha256(key)>   a record as versions before issue 14 kept it
--         (a string with a 24 h TTL), still honoured until the last of them has expired
-- ARGV[1] tweet id   ARGV[2] home timeline cap   ARGV[3] "1" when an Idempotency-Key was sent
-- ARGV[4] fingerprint of the request body   ARGV[5] idempotency TTL in seconds
-- ARGV[6] most tweets per window, or 0 for no limit   ARGV[7] limit window in ms
-- ARGV[8] sha256 of the Idempotency-Key (hex), or "-"   ARGV[9] now, ms since the epoch
-- Returns {"created", id, tweets counted in the window, ms until it ends},
-- {"replay", first id, first fingerprint, tweets counted, ms until the window ends (or < 0)} when
-- the key was already used, or
-- {"limited", tweets counted in the window, ms until it ends} (nothing written).
local now = tonumber(ARGV[9])
local expired = redis.call("ZRANGE", KEYS[5], "-inf", now, "BYSCORE", "LIMIT", 0, 8)
for _, sha in ipairs(expired) do
  redis.call("HDEL", KEYS[3], sha)
  redis.call("ZREM", KEYS[5], sha)
end
if ARGV[3] == "1" then
  local prior = redis.call("HGET", KEYS[3], ARGV[8])
  local until_ms = tonumber(redis.call("ZSCORE", KEYS[5], ARGV[8]) or "0")
  if not (prior and until_ms > now) then
    prior = redis.call("GET", KEYS[6])
  end
  if prior then
    local sep = string.find(prior, ":", 1, true)
    -- Where the limit stands, counting nothing, for the answer's headers.
    local counted = tonumber(redis.call("GET", KEYS[4]) or "0")
    return {"replay", string.sub(prior, 1, sep - 1), string.sub(prior, sep + 1),
            counted, redis.call("PTTL", KEYS[4])}
  end
end
local count, ttl = 0, 0
if ARGV[6] ~= "0" then
  count = tonumber(redis.call("GET", KEYS[4]) or "0")
  ttl = redis.call("PTTL", KEYS[4])
  if ttl < 0 then
    count, ttl = 0, tonumber(ARGV[7])
  end
  if count >= tonumber(ARGV[6]) then
    return {"limited", count, ttl}
  end
  count = count + 1
  if count == 1 then
    redis.call("SET", KEYS[4], 1, "PX", ARGV[7])
  else
    redis.call("INCR", KEYS[4])
  end
end
if ARGV[3] == "1" then
  redis.call("HSET", KEYS[3], ARGV[8], ARGV[1] .. ":" .. ARGV[4])
  redis.call("ZADD", KEYS[5], now + tonumber(ARGV[5]) * 1000, ARGV[8])
end
redis.call("ZADD", KEYS[1], ARGV[1], ARGV[1])
redis.call("ZADD", KEYS[2], ARGV[1], ARGV[1])
-- From rank 1: rank 0 is the home\'s built marker (member "0", score 0; keys.rs).
redis.call("ZREMRANGEBYRANK", KEYS[2], 1, -(tonumber(ARGV[2]) + 1))
return {"created", ARGV[1], count, ttl}
