#!/usr/bin/env bash
# 03 - Read timelines: bob's home timeline page by page (following next_cursor), alice's
# tweets, and the global timeline.
#
#   CHIRP_URL=http://127.0.0.1:8080 examples/03-read-timelines.sh
#
# Shows: GET /v1/timelines/home?limit=2 then &cursor=<next_cursor> until next_cursor is null
# (also the RFC 8288 Link header), GET /v1/users/{username}/tweets (no token needed),
# GET /v1/timelines/global.
set -euo pipefail

# The helpers every example uses: api, expect, register, bearer, wait_for_home, step, fail.
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

alice="alice_$run_id"
bob="bob_$run_id"

step "Register $alice and $bob; $bob follows $alice"
alice_token="$(register "$alice" | jq -r .access_token)"
bob_token="$(register "$bob" | jq -r .access_token)"
api 200 PUT "/v1/me/following/$alice" -H "$(bearer "$bob_token")" >/dev/null

step "$alice posts 5 tweets"
posted=()
for n in 1 2 3 4 5; do
  tweet="$(api 201 POST /v1/tweets -H "$JSON" -H "$(bearer "$alice_token")" \
    -d "$(jq -nc --arg t "Tweet number $n from $alice" '{text: $t}')")"
  posted=("$(jq -r .id <<<"$tweet")" "${posted[@]}") # newest first, as timelines are
done
echo "   ids, newest first: ${posted[*]}"

step "Wait until the fan-out has delivered all 5 to $bob"
for id in "${posted[@]}"; do wait_for_home "$bob_token" "$id"; done

step "Page through $bob's home timeline, 2 tweets a page"
seen=()
cursor=""
pages=0
while :; do
  pages=$((pages + 1))
  [ "$pages" -le 10 ] || fail "more pages than there are tweets: next_cursor never became null"
  query="limit=2"
  [ -z "$cursor" ] || query="$query&cursor=$(jq -rn --arg c "$cursor" '$c | @uri')"
  page="$(api 200 GET "/v1/timelines/home?$query" -H "$(bearer "$bob_token")")"
  expect "$page" '(.items | length) <= 2' "at most 2 items a page"
  mapfile -t ids < <(jq -r '.items[].id' <<<"$page")
  echo "   page $pages: ${ids[*]:-(empty)}"
  seen+=("${ids[@]}")
  cursor="$(jq -r '.next_cursor // empty' <<<"$page")"
  if [ -n "$cursor" ]; then
    grep -qi '^link: <.*>; *rel="next"' "$work/headers" || fail "a page with a next_cursor has no Link rel=\"next\" header"
  else
    break
  fi
done
[ "${seen[*]}" = "${posted[*]}" ] || fail "home timeline walk gave [${seen[*]}], expected [${posted[*]}]"
echo "   all 5 tweets, newest first, none repeated or skipped, in $pages pages"

step "Only what is newer than a given tweet: since_id"
page="$(api 200 GET "/v1/timelines/home?since_id=${posted[2]}" -H "$(bearer "$bob_token")")"
expect "$page" "[.items[].id] == [\"${posted[0]}\", \"${posted[1]}\"]" "the 2 tweets newer than ${posted[2]}"

step "$alice's tweets (public: no token)"
page="$(api 200 GET "/v1/users/$alice/tweets?limit=100")"
expect "$page" "[.items[].id] == $(printf '%s\n' "${posted[@]}" | jq -R . | jq -sc .)" "alice's 5 tweets, newest first"
jq -r '.items[] | "   \(.id)  \(.created_at)  \(.text)"' <<<"$page"

step "The global timeline (everyone's newest tweets)"
page="$(api 200 GET "/v1/timelines/global?limit=100")"
expect "$page" "any(.items[]; .id == \"${posted[0]}\")" "alice's newest tweet in the global timeline"
jq -r '.items[:5][] | "   \(.id)  @\(.author.username): \(.text)"' <<<"$page"

printf '\nOK: %s\n' "$(basename "$0")"
