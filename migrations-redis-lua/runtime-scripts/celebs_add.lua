-- celebs_add: note that a user follows a large account whose tweets their home reads merge in,
-- only while they do follow it (checked here, atomically, so a passage's walk over the
-- followers cannot bring back an entry that an unfollow has just removed).
-- Slot: the follower's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:celebs      the large accounts the user follows (zset, score = time)
-- KEYS[2] chirp:{u:<id>}:following
-- ARGV[1] the large account's id   ARGV[2] now, ms
-- Returns 1 if added, 0 if already there or not followed.
if not redis.call("ZSCORE", KEYS[2], ARGV[1]) then
  return 0
end
return redis.call("ZADD", KEYS[1], "NX", ARGV[2], ARGV[1])
