-- activity_touch: record that a user is active (at most once per touch interval per API
-- process: see `store::activity`), keep their home timeline and its repost map alive for
-- another inactivity period, and, when they come back from being inactive, mark the home
-- unbuilt: the fan-out skipped them meanwhile, so the next home read rebuilds it.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:active     last activity, ms since the epoch (string, no TTL)
-- KEYS[2] chirp:{u:<id>}:home       home timeline; member "0" (score 0) marks it built
-- KEYS[3] chirp:{u:<id>}:home_src   the home's repost map
-- ARGV[1] now, ms   ARGV[2] the inactivity period, ms   ARGV[3] the home's TTL, ms
-- Returns 1 when the user had been inactive (or had never been seen), else 0.
local last = tonumber(redis.call("GET", KEYS[1]) or "0")
local was_inactive = 0
if last + tonumber(ARGV[2]) < tonumber(ARGV[1]) then
  was_inactive = 1
  redis.call("ZREM", KEYS[2], "0")
end
redis.call("SET", KEYS[1], ARGV[1])
redis.call("PEXPIRE", KEYS[2], ARGV[3])
redis.call("PEXPIRE", KEYS[3], ARGV[3])
return was_inactive
