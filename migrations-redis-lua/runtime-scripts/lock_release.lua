-- lock_release: drop a lock only if we still hold it (it may have expired and been taken by
-- another process, whose lock we must not drop).
-- Slot: that of KEYS[1].
-- KEYS[1] the lock key   ARGV[1] our token
-- Returns 1 when released, 0 when the lock was no longer ours.
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
