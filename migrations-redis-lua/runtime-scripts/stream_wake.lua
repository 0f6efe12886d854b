-- stream_wake: tell one API process which of its users have new live events, if the process is
-- still there (it renews its wakes stream's TTL while it runs; a dead one's is not recreated).
-- Slot: the process's `{live:<process>}`.
-- KEYS[1] chirp:{live:<process>}:wakes
-- ARGV[1] user ids, comma-separated   ARGV[2] entries kept
-- Returns 1 when written, 0 when the process is gone.
if redis.call("EXISTS", KEYS[1]) == 0 then
  return 0
end
redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[2], "*", "u", ARGV[1])
return 1
