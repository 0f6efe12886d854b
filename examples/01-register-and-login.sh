#!/usr/bin/env bash
# 01 - Register an account, log in, and read your own profile.
#
#   CHIRP_URL=http://127.0.0.1:8080 examples/01-register-and-login.sh
#
# Shows: POST /v1/auth/register (201 Tokens), the 409 problem for a taken username,
# POST /v1/auth/login (200 Tokens; 401 invalid_credentials for a wrong password), GET /v1/me.
set -euo pipefail

# The helpers every example uses: api, expect, register, bearer, wait_for_home, step, fail.
# shellcheck source=examples/lib.sh
. "$(dirname "$0")/lib.sh"

alice="alice_$run_id"

step "Register $alice"
tokens="$(register "$alice")"
expect "$tokens" '.token_type == "Bearer" and (.access_token | length > 0) and (.refresh_token | length > 0)' "a Tokens answer"
expect "$tokens" ".user.username == \"$alice\" and .user.tweet_count == 0" "the new user in the answer"
echo "   user id $(jq -r .user.id <<<"$tokens"), access token expires in $(jq -r .expires_in <<<"$tokens") s"

step "Register $alice again: the username is taken (usernames are case-insensitive)"
upper="$(tr '[:lower:]' '[:upper:]' <<<"$alice")"
problem="$(api 409 POST /v1/auth/register -H "$JSON" \
  -d "$(jq -nc --arg u "$upper" --arg p "$PASSWORD" '{username: $u, password: $p}')")"
expect "$problem" '.code == "username_taken" and .status == 409' "an RFC 9457 problem with code username_taken"
echo "   $(jq -c . <<<"$problem")"

step "Log in as $alice"
login="$(api 200 POST /v1/auth/login -H "$JSON" \
  -d "$(jq -nc --arg u "$alice" --arg p "$PASSWORD" '{username: $u, password: $p}')")"
expect "$login" ".user.username == \"$alice\" and (.access_token | length > 0)" "a Tokens answer for $alice"
access="$(jq -r .access_token <<<"$login")"

step "Log in with a wrong password"
problem="$(api 401 POST /v1/auth/login -H "$JSON" \
  -d "$(jq -nc --arg u "$alice" '{username: $u, password: "not the password"}')")"
expect "$problem" '.code == "invalid_credentials"' "code invalid_credentials"

step "Read my profile with the access token"
me="$(api 200 GET /v1/me -H "$(bearer "$access")")"
expect "$me" ".username == \"$alice\"" "GET /v1/me to be $alice"
jq -c '{id, username, display_name, created_at}' <<<"$me"

step "Without a token, /v1/me answers 401"
api 401 GET /v1/me >/dev/null

printf '\nOK: %s\n' "$(basename "$0")"
