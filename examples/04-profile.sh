#!/usr/bin/env bash
# 04 - Edit your profile: display name and bio.
#
#   CHIRP_URL=http://127.0.0.1:8080 examples/04-profile.sh
#
# Shows: PATCH /v1/me (only the fields sent change), GET /v1/users/{username} (public,
# case-insensitive), and a 422 validation_failed problem with its per-field errors.
set -euo pipefail

# The helpers every example uses: api, expect, register, bearer, wait_for_home, step, fail.
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

carol="carol_$run_id"

step "Register $carol"
token="$(register "$carol" | jq -r .access_token)"

step "Set a display name and a bio"
me="$(api 200 PATCH /v1/me -H "$JSON" -H "$(bearer "$token")" \
  -d '{"display_name":"Carol C.","bio":"Writes about birds."}')"
expect "$me" '.display_name == "Carol C." and .bio == "Writes about birds."' "the new display name and bio"
jq -c '{username, display_name, bio}' <<<"$me"

step "Change only the bio: the display name stays"
me="$(api 200 PATCH /v1/me -H "$JSON" -H "$(bearer "$token")" -d '{"bio":"Writes about birds and bees."}')"
expect "$me" '.display_name == "Carol C." and .bio == "Writes about birds and bees."' "only the bio changed"

step "Anyone can read the profile (lookups ignore case)"
upper="$(tr '[:lower:]' '[:upper:]' <<<"$carol")"
profile="$(api 200 GET "/v1/users/$upper")"
expect "$profile" ".username == \"$carol\" and .display_name == \"Carol C.\" and .bio == \"Writes about birds and bees.\"" \
  "the public profile to show the edits"
jq -c '{id, username, display_name, bio, followers_count, following_count, tweet_count}' <<<"$profile"

step "A bio over 160 characters is refused with a field error"
long_bio="$(printf 'b%.0s' $(seq 1 161))"
problem="$(api 422 PATCH /v1/me -H "$JSON" -H "$(bearer "$token")" -d "$(jq -nc --arg b "$long_bio" '{bio: $b}')")"
expect "$problem" '.code == "validation_failed" and any(.errors[]; .field == "bio")' "validation_failed with an error on bio"
jq -c '.errors' <<<"$problem"

step "The failed edit changed nothing"
me="$(api 200 GET /v1/me -H "$(bearer "$token")")"
expect "$me" '.bio == "Writes about birds and bees."' "the previous bio"

printf '\nOK: %s\n' "$(basename "$0")"
