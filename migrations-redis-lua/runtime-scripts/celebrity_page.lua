#!lua flags=no-writes
-- celebrity_page: the part of a large account's tweets that its followers' home reads merge in
-- (API.md "Large accounts"): the ids in the pulled range [since, until) of its `celebrity`
-- state, within a page's bounds. Tweets outside that range were (or will be) pushed into the
-- homes, so a merged page never counts one tweet twice.
-- Slot: the author's `{u:<id>}`.
-- KEYS[1] chirp:{u:<id>}:celebrity   hash: state, since, until (absent: not pulled)
-- KEYS[2] chirp:{u:<id>}:tweets      the author's tweets (score = member = id)
-- ARGV[1] only ids below this one (a cursor), or "" for none
-- ARGV[2] only ids above this one (since_id), or "" for none
-- ARGV[3] at most this many ids
-- Returns {ids in the range at or above ARGV[1], which earlier pages served (0 without a
-- cursor), id, id, ...}, newest first.
local since = tonumber(redis.call("HGET", KEYS[1], "since") or "")
if not since then
  return {0}
end
local hi = tonumber(redis.call("HGET", KEYS[1], "until") or "") or math.huge
hi = hi - 1
local lo = since
if ARGV[2] ~= "" then
  lo = math.max(lo, tonumber(ARGV[2]) + 1)
end
local served = 0
if ARGV[1] ~= "" then
  local before = tonumber(ARGV[1])
  if before <= hi then
    served = redis.call("ZCOUNT", KEYS[2], math.max(before, lo), hi == math.huge and "+inf" or hi)
  end
  hi = math.min(hi, before - 1)
end
if hi < lo then
  return {served}
end
local ids = redis.call("ZRANGE", KEYS[2], hi == math.huge and "+inf" or hi, lo,
  "BYSCORE", "REV", "LIMIT", 0, tonumber(ARGV[3]))
table.insert(ids, 1, served)
return ids
