-- post_tweet: make a freshly stored tweet visible to its author, deciding an
-- Idempotency-Key race in the same atomic step.
-- Slot: the author's `{u:<id>}`; every key below lives in it.
-- KEYS[1] chirp:{u:<author>}:tweets   user timeline (zset, score = member = tweet id)
-- KEYS[2] chirp:{u:<author>}:home     home timeline (zset, capped)
-- KEYS[3] chirp:{u:<author>}:idem:<sha256(key)>   idempotency record (string), or any key of
--         the slot when ARGV[3] is "0"
-- ARGV[1] tweet id   ARGV[2] home timeline cap   ARGV[3] "1" when an Idempotency-Key was sent
-- ARGV[4] fingerprint of the request body   ARGV[5] idempotency TTL in seconds
-- Returns {"created", id} or, when the key was already used, {"replay", first id, first fingerprint}.
if ARGV[3] == "1" then
  local prior = redis.call("GET", KEYS[3])
  if prior then
    local sep = string.find(prior, ":", 1, true)
    return {"replay", string.sub(prior, 1, sep - 1), string.sub(prior, sep + 1)}
  end
  redis.call("SET", KEYS[3], ARGV[1] .. ":" .. ARGV[4], "EX", ARGV[5])
end
redis.call("ZADD", KEYS[1], ARGV[1], ARGV[1])
redis.call("ZADD", KEYS[2], ARGV[1], ARGV[1])
redis.call("ZREMRANGEBYRANK", KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
return {"created", ARGV[1]}
