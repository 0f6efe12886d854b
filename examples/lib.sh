# Shared by the examples (sourced, not run): configuration, the request helper and checks.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are for the scripts that source this file
CHIRP_URL="${CHIRP_URL:-http://127.0.0.1:8080}"
CHIRP_URL="${CHIRP_URL%/}"
for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "this example needs $tool" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A suffix that makes this run's usernames unique (usernames are 3-15 of [A-Za-z0-9_]).
run_id="$(printf '%s' "$RANDOM$$" | cut -c1-9)"
PASSWORD='correct horse battery staple'
QUIET=0

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# api EXPECTED_STATUS METHOD PATH [curl options...]
# Sends one request, prints the answer's body on stdout, and stops the script unless the HTTP
# status is EXPECTED_STATUS. Use it as body="$(api 200 GET /v1/me -H "$(bearer "$token")")".
api() {
  local want="$1" method="$2" path="$3" code
  shift 3
  code="$(curl -sS -o "$work/body" -D "$work/headers" -w '%{http_code}' -X "$method" "$CHIRP_URL$path" "$@")" \
    || fail "$method $path: no answer from $CHIRP_URL"
  [ "$QUIET" = 1 ] || printf '   %s %s -> %s\n' "$method" "$path" "$code" >&2
  if [ "$code" != "$want" ]; then
    [ "$code" != 429 ] || echo "   rate limited (Retry-After: $(sed -n 's/^retry-after: *//Ip' "$work/headers" | tr -d '\r') s);" \
      "for local experiments run chirp-api with CHIRP_RATE_LIMITS=off" >&2
    fail "$method $path answered $code, expected $want: $(cat "$work/body")"
  fi
  cat "$work/body"
}

# expect JSON JQ_FILTER WHAT: stops the script unless the filter is true for JSON.
expect() {
  jq -e "$2" >/dev/null 2>&1 <<<"$1" || fail "expected $3; got: $1"
}

bearer() { printf 'Authorization: Bearer %s' "$1"; }
JSON='Content-Type: application/json'

# register USERNAME: creates the account and prints the Tokens answer.
register() {
  api 201 POST /v1/auth/register -H "$JSON" \
    -d "$(jq -nc --arg u "$1" --arg p "$PASSWORD" '{username: $u, password: $p}')"
}

# wait_for_home TOKEN TWEET_ID: polls the home timeline for up to ~5 s. Fan-out is asynchronous
# (a worker moves the tweet into followers' timelines, normally within milliseconds), so a
# follower's timeline read right after the post may not hold the tweet yet.
wait_for_home() {
  local token="$1" id="$2" page i
  for i in $(seq 1 50); do
    page="$(QUIET=1 api 200 GET "/v1/timelines/home?limit=100" -H "$(bearer "$token")")"
    if jq -e --arg id "$id" 'any(.items[]; .id == $id)' >/dev/null <<<"$page"; then
      echo "   tweet $id is in the home timeline (read $i)"
      return 0
    fi
    sleep 0.1
  done
  fail "tweet $id did not reach the home timeline within 5 s (is a chirp-fanout-worker running?)"
}
