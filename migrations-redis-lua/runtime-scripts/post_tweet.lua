-- post_tweet: make a freshly stored tweet visible to its author, deciding an
-- Idempotency-Key race and the author's tweet limit in the same atomic step. A retry of a key
-- already used is answered before the limit is looked at, so retries never use up the quota.
-- Slot: the author's `{u:<id>}`; every key below lives in it.
-- KEYS[1] chirp:{u:<author>}:tweets   user timeline (zset, score = member = tweet id)
-- KEYS[2] chirp:{u:<author>}:home     home timeline (zset, capped)
-- KEYS[3] chirp:{u:<author>}:idem:<sha256(key)>   idempotency record (string), or any key of
--         the slot when ARGV[3] is "0"
-- KEYS[4] chirp:{u:<author>}:rl:tweets   tweets in the current limit window (string with a TTL)
-- ARGV[1] tweet id   ARGV[2] home timeline cap   ARGV[3] "1" when an Idempotency-Key was sent
-- ARGV[4] fingerprint of the request body   ARGV[5] idempotency TTL in seconds
-- ARGV[6] most tweets per window, or 0 for no limit   ARGV[7] limit window in ms
-- Returns {"created", id, tweets counted in the window, ms until it ends},
-- {"replay", first id, first fingerprint, tweets counted, ms until the window ends (or < 0)} when
-- the key was already used, or
-- {"limited", tweets counted in the window, ms until it ends} (nothing written).
if ARGV[3] == "1" then
  local prior = redis.call("GET", KEYS[3])
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
  redis.call("SET", KEYS[3], ARGV[1] .. ":" .. ARGV[4], "EX", ARGV[5])
end
redis.call("ZADD", KEYS[1], ARGV[1], ARGV[1])
redis.call("ZADD", KEYS[2], ARGV[1], ARGV[1])
-- From rank 1: rank 0 is the home\'s built marker (member "0", score 0; keys.rs).
redis.call("ZREMRANGEBYRANK", KEYS[2], 1, -(tonumber(ARGV[2]) + 1))
return {"created", ARGV[1], count, ttl}
