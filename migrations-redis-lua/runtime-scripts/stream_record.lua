-- stream_record: append live events to one user's event log, if and only if the user has a
-- stream open or had one within the resume window (`live` exists), and each change only once:
-- `events_seen` holds the last change recorded per tweet or notification, so a fan-out run
-- again after a crash records nothing twice, and one that died between its write and this call
-- records it on its rerun. What is recorded is checked against the state now, not taken from
-- the caller: a `tweet` only while the home holds it, a `delete` only once it does not, a
-- `notification` only while it exists.
-- Slot: the user's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:live      KEYS[2] chirp:{u:<id>}:events   KEYS[3] chirp:{u:<id>}:events_seen
-- KEYS[4] chirp:{u:<id>}:home      KEYS[5] chirp:{u:<id>}:notifications
-- KEYS[6] chirp:{u:<id>}:streams   (open streams: member `<process>:<stream>`, score = lapse ms)
-- ARGV[1] now (ms)   ARGV[2] the resume window (ms)
-- ARGV[3] kind: `tweet`, `delete`, `notification` or `end` (a session ended: close its streams);
--         or `merged`: a tweet of a large account the user follows, merged into home reads
--         rather than stored in the home (recorded as a `tweet`; the caller checked the rules)
-- ARGV[4..] tweet ids, notification members, or for `end` the session id (`*`: all of them)
-- Returns the API processes holding one of the user's streams (each once) when something was
-- appended, else an empty list.
if redis.call("EXISTS", KEYS[1]) == 0 then
  return {}
end
local now, window, kind = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", now - window)
local function seen(tag)
  return redis.call("ZSCORE", KEYS[3], tag) ~= false
end
local appended = 0
for i = 4, #ARGV do
  local v = ARGV[i]
  local emit = false
  if kind == "tweet" then
    emit = redis.call("ZSCORE", KEYS[4], v) ~= false and not seen("t:" .. v)
    if emit then
      redis.call("ZREM", KEYS[3], "d:" .. v)
      redis.call("ZADD", KEYS[3], now, "t:" .. v)
    end
  elseif kind == "delete" then
    emit = redis.call("ZSCORE", KEYS[4], v) == false and not seen("d:" .. v)
    if emit then
      redis.call("ZREM", KEYS[3], "t:" .. v)
      redis.call("ZADD", KEYS[3], now, "d:" .. v)
    end
  elseif kind == "merged" then
    emit = not seen("t:" .. v)
    if emit then
      redis.call("ZADD", KEYS[3], now, "t:" .. v)
    end
  elseif kind == "notification" then
    emit = redis.call("ZSCORE", KEYS[5], v) ~= false and not seen("n:" .. v)
    if emit then
      redis.call("ZADD", KEYS[3], now, "n:" .. v)
    end
  elseif kind == "end" then
    emit = true
  end
  if emit then
    redis.call("XADD", KEYS[2], "*", "k", kind == "merged" and "tweet" or kind, "v", v)
    appended = appended + 1
  end
end
if appended == 0 then
  return {}
end
-- Entry ids are Redis's own clock in ms, so the window is trimmed by it, not by the caller's.
local t = redis.call("TIME")
local redis_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call("XTRIM", KEYS[2], "MINID", "~", redis_now - window)
redis.call("PEXPIRE", KEYS[2], window)
redis.call("PEXPIRE", KEYS[3], window)
local procs, named = {}, {}
for _, member in ipairs(redis.call("ZRANGE", KEYS[6], now, "+inf", "BYSCORE")) do
  local proc = string.match(member, "^[^:]+")
  if proc and not named[proc] then
    named[proc] = true
    procs[#procs + 1] = proc
  end
end
return procs
