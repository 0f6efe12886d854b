#!/usr/bin/env bash
# 02 - Two users: bob follows alice, alice posts (safely retried with an Idempotency-Key), and
# the tweet reaches bob's home timeline through the asynchronous fan-out.
#
#   CHIRP_URL=http://127.0.0.1:8080 examples/02-follow-and-post.sh
#
# Shows: PUT /v1/me/following/{username}, POST /v1/tweets with Idempotency-Key (a retry returns
# the same tweet; the same key with another text is 422 idempotency_key_reused), and polling
# GET /v1/timelines/home until the fan-out worker has delivered the tweet.
set -euo pipefail

# The helpers every example uses: api, expect, register, bearer, wait_for_home, step, fail.
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

alice="alice_$run_id"
bob="bob_$run_id"

step "Register $alice and $bob"
alice_token="$(register "$alice" | jq -r .access_token)"
bob_token="$(register "$bob" | jq -r .access_token)"

step "$bob follows $alice"
followed="$(api 200 PUT "/v1/me/following/$alice" -H "$(bearer "$bob_token")")"
expect "$followed" ".username == \"$alice\" and .followers_count == 1 and .following == true" \
  "the followed user, with followers_count 1 and following true"

step "Following again changes nothing (idempotent)"
followed="$(api 200 PUT "/v1/me/following/$alice" -H "$(bearer "$bob_token")")"
expect "$followed" '.followers_count == 1' "followers_count still 1"

step "$alice posts a tweet with an Idempotency-Key"
key="example-02-$run_id-$(date +%s)"
text="Hello from $alice, run $run_id"
body="$(jq -nc --arg t "$text" '{text: $t}')"
tweet="$(api 201 POST /v1/tweets -H "$JSON" -H "$(bearer "$alice_token")" -H "Idempotency-Key: $key" -d "$body")"
expect "$tweet" "(.id | test(\"^[0-9]+$\")) and .author.username == \"$alice\"" "a Tweet by $alice with a string id"
tweet_id="$(jq -r .id <<<"$tweet")"
jq -c . <<<"$tweet"

step "Retry the same request (same key, same body): the same tweet, nothing new is created"
again="$(api 201 POST /v1/tweets -H "$JSON" -H "$(bearer "$alice_token")" -H "Idempotency-Key: $key" -d "$body")"
expect "$again" ".id == \"$tweet_id\"" "the same tweet id $tweet_id"
profile="$(api 200 GET "/v1/users/$alice")"
expect "$profile" '.tweet_count == 1' "tweet_count 1 after the retry"

step "The same key with a different text is refused"
problem="$(api 422 POST /v1/tweets -H "$JSON" -H "$(bearer "$alice_token")" -H "Idempotency-Key: $key" \
  -d '{"text":"something else"}')"
expect "$problem" '.code == "idempotency_key_reused"' "code idempotency_key_reused"

step "The tweet is in $alice's own timelines at once (read-your-writes)"
page="$(api 200 GET "/v1/users/$alice/tweets")"
expect "$page" ".items[0].id == \"$tweet_id\"" "the tweet first in $alice's tweets"

step "Wait for the fan-out to put it in $bob's home timeline"
wait_for_home "$bob_token" "$tweet_id"

printf '\nOK: %s\n' "$(basename "$0")"
