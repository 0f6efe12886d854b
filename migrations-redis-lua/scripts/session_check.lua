-- session_check: is this session still live? (logout and logout-all take effect at once
-- because every authenticated request asks this).
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:sessions
-- ARGV[1] session id   ARGV[2] now, ms since epoch
-- Returns 1 when live, else 0.
local value = redis.call("HGET", KEYS[1], ARGV[1])
if not value then
  return 0
end
local sep = string.find(value, ":", 1, true)
if tonumber(string.sub(value, sep + 1)) <= tonumber(ARGV[2]) then
  return 0
end
return 1
