#!/usr/bin/env bash
# 05 - Delete a tweet, refresh the tokens, log out, and see the old tokens refused.
#
#   CHIRP_URL=http://127.0.0.1:8080 examples/05-delete-and-logout.sh
#
# Shows: DELETE /v1/tweets/{id} (204, then 404; only the author may delete: 403),
# POST /v1/auth/refresh (rotates the refresh token), POST /v1/auth/logout (204), and the 401
# (with WWW-Authenticate: Bearer) for the session's tokens afterwards.
set -euo pipefail

# The helpers every example uses: api, expect, register, bearer, wait_for_home, step, fail.
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

dave="dave_$run_id"
erin="erin_$run_id"

step "Register $dave and $erin"
tokens="$(register "$dave")"
access="$(jq -r .access_token <<<"$tokens")"
refresh="$(jq -r .refresh_token <<<"$tokens")"
erin_token="$(register "$erin" | jq -r .access_token)"

step "$dave posts a tweet"
tweet="$(api 201 POST /v1/tweets -H "$JSON" -H "$(bearer "$access")" -d '{"text":"This one will not last."}')"
tweet_id="$(jq -r .id <<<"$tweet")"
api 200 GET "/v1/tweets/$tweet_id" >/dev/null

step "$erin may not delete $dave's tweet"
problem="$(api 403 DELETE "/v1/tweets/$tweet_id" -H "$(bearer "$erin_token")")"
expect "$problem" '.code == "forbidden"' "code forbidden"

step "$dave deletes it"
api 204 DELETE "/v1/tweets/$tweet_id" -H "$(bearer "$access")" >/dev/null
problem="$(api 404 GET "/v1/tweets/$tweet_id")"
expect "$problem" '.code == "not_found"' "code not_found"
page="$(api 200 GET "/v1/users/$dave/tweets")"
expect "$page" "all(.items[]; .id != \"$tweet_id\")" "the tweet gone from $dave's tweets"

step "Refresh the tokens (the refresh token rotates)"
tokens="$(api 200 POST /v1/auth/refresh -H "$JSON" -d "$(jq -nc --arg r "$refresh" '{refresh_token: $r}')")"
expect "$tokens" ".user.username == \"$dave\" and .refresh_token != \"$refresh\"" "new tokens with a new refresh token"
access="$(jq -r .access_token <<<"$tokens")"
refresh="$(jq -r .refresh_token <<<"$tokens")"
api 200 GET /v1/me -H "$(bearer "$access")" >/dev/null

step "Log out"
api 204 POST /v1/auth/logout -H "$(bearer "$access")" >/dev/null

step "After logout the session's access token is refused"
problem="$(api 401 GET /v1/me -H "$(bearer "$access")")"
expect "$problem" '.code == "unauthorized"' "code unauthorized"
grep -qi '^www-authenticate: *Bearer' "$work/headers" || fail "the 401 has no WWW-Authenticate: Bearer header"
echo "   $(jq -c . <<<"$problem")"

step "... and so is its refresh token"
api 401 POST /v1/auth/refresh -H "$JSON" -d "$(jq -nc --arg r "$refresh" '{refresh_token: $r}')" >/dev/null

printf '\nOK: %s\n' "$(basename "$0")"
