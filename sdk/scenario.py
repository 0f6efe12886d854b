#!/usr/bin/env python3
"""End-to-end scenario for a Python SDK generated from Chirp's OpenAPI document.

It drives a live server only through the generated client (package `chirp_api_client`, made by
openapi-python-client from openapi/openapi.json; see sdk/README.md): two users register, one
follows the other, the other posts, and the tweet reaches the follower's home timeline through
the asynchronous fan-out. Every step is checked; the script exits 1 at the first surprise.

    python3 sdk/scenario.py [BASE_URL]     # default: $CHIRP_URL, else http://127.0.0.1:8080
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from typing import Any

import httpx
from chirp_api_client import AuthenticatedClient, Client
from chirp_api_client.api.auth import login, register
from chirp_api_client.api.operations import ready
from chirp_api_client.api.social import follow, list_followers
from chirp_api_client.api.timelines import get_home_timeline, list_user_tweets
from chirp_api_client.api.tweets import create_tweet, get_tweet
from chirp_api_client.api.users import get_me
from chirp_api_client.models import (
    CreateTweetRequest,
    LoginRequest,
    Problem,
    RegisterRequest,
    TokensResponse,
    TweetPage,
    TweetResponse,
    UserPage,
    UserResponse,
)
from chirp_api_client.types import Response

PASSWORD = "correct horse battery staple"
FANOUT_WAIT_SECS = 5.0
TIMEOUT = httpx.Timeout(10.0)


class ScenarioFailed(Exception):
    pass


def step(text: str) -> None:
    print(f"== {text}", flush=True)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise ScenarioFailed(what)


def expect(response: Response[Any], status: int, model: type, what: str) -> Any:
    """The parsed answer, after checking its HTTP status and that it parsed as `model`."""
    if response.status_code != status or not isinstance(response.parsed, model):
        body = response.content.decode("utf-8", "replace")
        raise ScenarioFailed(f"{what}: expected {status} {model.__name__}, got {int(response.status_code)}: {body}")
    print(f"   {what}: {int(response.status_code)}", flush=True)
    return response.parsed


def main(base_url: str) -> None:
    # Public reads (profiles, a user's tweets, followers, one tweet) work without a token. The spec
    # says so (`security: [{}, {bearer: []}]`), but openapi-python-client types every operation
    # with a security requirement as taking an AuthenticatedClient; a plain Client works at run
    # time, hence the `type: ignore` comments below.
    public = Client(base_url=base_url, raise_on_unexpected_status=True, timeout=TIMEOUT)

    step(f"Chirp at {base_url} is ready")
    answer = ready.sync_detailed(client=public)
    check(answer.status_code == 200, f"GET /readyz answered {int(answer.status_code)}")

    # Usernames: 3-15 of [A-Za-z0-9_], unique per run.
    suffix = secrets.token_hex(5)
    alice_name, bob_name = f"sdka_{suffix}", f"sdkb_{suffix}"

    step(f"Register {alice_name} and {bob_name}")
    alice_tokens: TokensResponse = expect(
        register.sync_detailed(
            client=public,
            body=RegisterRequest(username=alice_name, password=PASSWORD, display_name="Alice (SDK)"),
        ),
        201,
        TokensResponse,
        "register alice",
    )
    check(alice_tokens.token_type == "Bearer", f"token_type {alice_tokens.token_type!r}")
    check(alice_tokens.user.username == alice_name, "the new user in the Tokens answer")
    check(alice_tokens.user.display_name == "Alice (SDK)", "the display name given at registration")
    check(alice_tokens.user.id.isdigit(), f"a string id of digits, got {alice_tokens.user.id!r}")
    bob_tokens: TokensResponse = expect(
        register.sync_detailed(
            client=public,
            body=RegisterRequest(username=bob_name, password=PASSWORD, display_name="Bob (SDK)"),
        ),
        201,
        TokensResponse,
        "register bob",
    )

    step("A taken username is a typed Problem (409 username_taken)")
    problem: Problem = expect(
        register.sync_detailed(
            client=public,
            body=RegisterRequest(username=alice_name.upper(), password=PASSWORD, display_name="Impostor"),
        ),
        409,
        Problem,
        "register alice again",
    )
    check(problem.code == "username_taken", f"code username_taken, got {problem.code!r}")

    step(f"Log in as {bob_name}")
    bob_login: TokensResponse = expect(
        login.sync_detailed(client=public, body=LoginRequest(username=bob_name, password=PASSWORD)),
        200,
        TokensResponse,
        "login bob",
    )
    check(bob_login.user.id == bob_tokens.user.id, "login returns the same user as registration")

    alice = AuthenticatedClient(
        base_url=base_url, token=alice_tokens.access_token, raise_on_unexpected_status=True, timeout=TIMEOUT
    )
    bob = AuthenticatedClient(
        base_url=base_url, token=bob_login.access_token, raise_on_unexpected_status=True, timeout=TIMEOUT
    )

    me: UserResponse = expect(get_me.sync_detailed(client=bob), 200, UserResponse, "get_me as bob")
    check(me.username == bob_name, f"get_me is {bob_name}, got {me.username!r}")

    step(f"{bob_name} follows {alice_name}")
    followed: UserResponse = expect(
        follow.sync_detailed(client=bob, username=alice_name), 200, UserResponse, "follow alice"
    )
    check(followed.username == alice_name, "follow answers the followed user")
    check(followed.followers_count == 1, f"followers_count 1, got {followed.followers_count}")
    check(followed.following is True, f"following true, got {followed.following!r}")
    followers: UserPage = expect(
        list_followers.sync_detailed(client=public, username=alice_name),  # type: ignore[arg-type]
        200,
        UserPage,
        "list alice's followers",
    )
    check([u.username for u in followers.items] == [bob_name], f"alice's followers are [{bob_name}]")

    step(f"{alice_name} posts a tweet (with an Idempotency-Key)")
    key = f"sdk-scenario-{suffix}"
    text = f"Hello from the Python SDK ({suffix})"
    tweet: TweetResponse = expect(
        create_tweet.sync_detailed(client=alice, body=CreateTweetRequest(text=text), idempotency_key=key),
        201,
        TweetResponse,
        "create_tweet",
    )
    check(tweet.text == text and tweet.author.username == alice_name, "the tweet as posted")
    retry: TweetResponse = expect(
        create_tweet.sync_detailed(client=alice, body=CreateTweetRequest(text=text), idempotency_key=key),
        201,
        TweetResponse,
        "create_tweet retried with the same key",
    )
    check(retry.id == tweet.id, f"the retry returns the same tweet {tweet.id}, got {retry.id}")
    fetched: TweetResponse = expect(
        get_tweet.sync_detailed(client=public, id=tweet.id),  # type: ignore[arg-type]
        200,
        TweetResponse,
        "get_tweet",
    )
    check(fetched.id == tweet.id and fetched.created_at == tweet.created_at, "get_tweet returns the tweet")
    own: TweetPage = expect(
        list_user_tweets.sync_detailed(client=public, username=alice_name),  # type: ignore[arg-type]
        200,
        TweetPage,
        "list alice's tweets",
    )
    check([t.id for t in own.items] == [tweet.id], "alice's tweets hold exactly the one tweet")

    step(f"The tweet reaches {bob_name}'s home timeline (asynchronous fan-out, up to {FANOUT_WAIT_SECS:.0f} s)")
    deadline = time.monotonic() + FANOUT_WAIT_SECS
    reads = 0
    while True:
        reads += 1
        answer = get_home_timeline.sync_detailed(client=bob, limit=20)
        check(answer.status_code == 200 and isinstance(answer.parsed, TweetPage), f"home timeline: {answer.content!r}")
        home: TweetPage = answer.parsed
        if any(t.id == tweet.id for t in home.items):
            break
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"tweet {tweet.id} not in {bob_name}'s home timeline after {FANOUT_WAIT_SECS} s")
        time.sleep(0.1)
    print(f"   there after {reads} read(s)", flush=True)
    check([t.id for t in home.items] == [tweet.id], "bob's home timeline holds exactly alice's tweet")
    check(not home.next_cursor, "a single page: no next_cursor")
    check(home.items[0].author.username == alice_name, "the tweet's author is alice")

    print("OK: sdk/scenario.py", flush=True)


if __name__ == "__main__":
    url = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CHIRP_URL", "http://127.0.0.1:8080")).rstrip("/")
    try:
        main(url)
    except ScenarioFailed as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        sys.exit(1)
