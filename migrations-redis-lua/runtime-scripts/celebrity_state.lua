-- celebrity_state: one step of a large account's passage between fan-out on write ("push") and
-- merge on read ("pull"); see `fanout::celebrity` for the whole passage and why it keeps every
-- follower's home exact. The boundary of each step is the newest id in the author's tweets at
-- that instant: a tweet above it is stored after the step, so its fan-out reads the new state.
-- Slot: the author's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:celebrity   hash: state (migrating | pull | draining), since, until
-- KEYS[2] chirp:{u:<id>}:tweets
-- ARGV[1] the step: "migrate" (push -> migrating), "pull" (migrating -> pull, since = boundary),
--         "drain" (pull -> draining, until = boundary), "push" (draining -> no state)
-- Returns {state after the step ("push" when none), since or "", until or ""}.
local state = redis.call("HGET", KEYS[1], "state") or "push"
local step = ARGV[1]
local newest = redis.call("ZRANGE", KEYS[2], 0, 0, "REV")[1]
local boundary = (tonumber(newest or "0") or 0) + 1
if step == "migrate" and state == "push" then
  redis.call("HSET", KEYS[1], "state", "migrating")
elseif step == "pull" and state == "migrating" then
  redis.call("HSET", KEYS[1], "state", "pull", "since", boundary)
elseif step == "drain" and state == "pull" then
  redis.call("HSET", KEYS[1], "state", "draining", "until", boundary)
elseif step == "push" and state == "draining" then
  redis.call("DEL", KEYS[1])
end
local now = redis.call("HMGET", KEYS[1], "state", "since", "until")
return {now[1] or "push", now[2] or "", now[3] or ""}
