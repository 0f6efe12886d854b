-- home_built: the last step of a home timeline's rebuild. Marks the home built (member "0",
-- score 0: it lives and dies with the home, so an evicted or expired home is never mistaken for
-- a built one), trims it to the cap (rank 0 is the marker), gives it and its repost map the
-- inactivity TTL, and releases the rebuild's lock.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:home   KEYS[2] chirp:{u:<id>}:home_src   KEYS[3] chirp:{u:<id>}:rebuild
-- ARGV[1] the home timeline cap   ARGV[2] the home's TTL, ms
-- Returns the home's length, the marker included.
redis.call("ZADD", KEYS[1], 0, "0")
redis.call("ZREMRANGEBYRANK", KEYS[1], 1, -(tonumber(ARGV[1]) + 1))
redis.call("PEXPIRE", KEYS[1], ARGV[2])
redis.call("PEXPIRE", KEYS[2], ARGV[2])
redis.call("DEL", KEYS[3])
return redis.call("ZCARD", KEYS[1])
