#!/usr/bin/env python3
"""End-to-end scenario for a Python SDK generated from Chirp's OpenAPI document.

It drives a live server only through the generated client (package `chirp_api_client`, made by
openapi-python-client from openapi/openapi.json; see sdk/README.md): two users register, one
follows the other, the other posts, and the tweet reaches the follower's home timeline through
the asynchronous fan-out. Then the social layer: the follower replies to the tweet (seen in its
context and replies), likes it and reposts it (the repost is in the follower's tweets); the
author reads the follow, reply, like and repost notifications (made asynchronously), filters
them by type, marks them read; mutes and unmutes the follower, then blocks them (their like is
then refused with 403) and unblocks them. Every step is checked; the script exits 1 at the
first surprise.

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
from chirp_api_client.api.notifications import get_unread_count, list_notifications, mark_notifications_read
from chirp_api_client.api.operations import ready
from chirp_api_client.api.social import block, follow, list_blocks, list_followers, list_mutes, mute, unblock, unmute
from chirp_api_client.api.timelines import get_home_timeline, list_user_tweets
from chirp_api_client.api.tweets import (
    create_tweet,
    get_tweet,
    get_tweet_context,
    like_tweet,
    list_likers,
    list_replies,
    repost_tweet,
)
from chirp_api_client.api.users import get_me, get_user
from chirp_api_client.models import (
    CreateTweetRequest,
    LoginRequest,
    MarkReadRequest,
    NotificationPage,
    Problem,
    RegisterRequest,
    TokensResponse,
    TweetContextResponse,
    TweetPage,
    TweetResponse,
    UnreadCountResponse,
    UserPage,
    UserResponse,
)
from chirp_api_client.types import Response

PASSWORD = "correct horse battery staple"
FANOUT_WAIT_SECS = 5.0
NOTIFY_WAIT_SECS = 5.0
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

    social(public, alice, bob, alice_name, bob_name, tweet, suffix)

    print("OK: sdk/scenario.py", flush=True)


def social(
    public: Client,
    alice: AuthenticatedClient,
    bob: AuthenticatedClient,
    alice_name: str,
    bob_name: str,
    tweet: TweetResponse,
    suffix: str,
) -> None:
    """The social layer: replies, likes, reposts, notifications, mutes and blocks."""
    step(f"{bob_name} replies to {alice_name}'s tweet")
    reply_text = f"Hi alice, the SDK says hello back ({suffix})"
    reply: TweetResponse = expect(
        create_tweet.sync_detailed(client=bob, body=CreateTweetRequest(text=reply_text, in_reply_to_id=tweet.id)),
        201,
        TweetResponse,
        "create_tweet in reply",
    )
    check(reply.in_reply_to_id == tweet.id, f"in_reply_to_id {tweet.id}, got {reply.in_reply_to_id!r}")
    check(reply.text == reply_text and reply.author.username == bob_name, "the reply as posted")
    check(reply.repost_of is None, f"a reply is no repost, got repost_of {reply.repost_of!r}")
    context: TweetContextResponse = expect(
        get_tweet_context.sync_detailed(client=alice, id=tweet.id), 200, TweetContextResponse, "get_tweet_context"
    )
    check(context.ancestors == [], f"alice's tweet is a root: no ancestors, got {[t.id for t in context.ancestors]}")
    check([t.id for t in context.replies] == [reply.id], f"the context's replies are [{reply.id}]")
    check(context.replies[0].in_reply_to_id == tweet.id, "the context's reply answers alice's tweet")
    reply_context: TweetContextResponse = expect(
        get_tweet_context.sync_detailed(client=public, id=reply.id),  # type: ignore[arg-type]
        200,
        TweetContextResponse,
        "get_tweet_context of the reply",
    )
    check([t.id for t in reply_context.ancestors] == [tweet.id], f"the reply's ancestors are [{tweet.id}]")
    check(reply_context.replies == [], "the reply has no replies")
    replies: TweetPage = expect(
        list_replies.sync_detailed(client=public, id=tweet.id),  # type: ignore[arg-type]
        200,
        TweetPage,
        "list_replies",
    )
    check([t.id for t in replies.items] == [reply.id], f"alice's tweet's replies are [{reply.id}]")
    check(not replies.next_cursor, "a single page of replies: no next_cursor")
    parent: TweetResponse = expect(
        get_tweet.sync_detailed(client=public, id=tweet.id),  # type: ignore[arg-type]
        200,
        TweetResponse,
        "get_tweet after the reply",
    )
    check(parent.reply_count == 1, f"reply_count 1, got {parent.reply_count}")

    step(f"{bob_name} likes {alice_name}'s tweet (twice: idempotent)")
    for attempt in ("like_tweet", "like_tweet again"):
        liked: TweetResponse = expect(like_tweet.sync_detailed(client=bob, id=tweet.id), 200, TweetResponse, attempt)
        check(liked.id == tweet.id, f"{attempt} answers the liked tweet")
        check(liked.like_count == 1, f"{attempt}: like_count 1, got {liked.like_count}")
        check(liked.liked is True, f"{attempt}: liked true, got {liked.liked!r}")
    likers: UserPage = expect(
        list_likers.sync_detailed(client=public, id=tweet.id),  # type: ignore[arg-type]
        200,
        UserPage,
        "list_likers",
    )
    check([u.username for u in likers.items] == [bob_name], f"the tweet's likers are [{bob_name}]")
    as_alice: TweetResponse = expect(
        get_tweet.sync_detailed(client=alice, id=tweet.id), 200, TweetResponse, "get_tweet as alice"
    )
    check(as_alice.like_count == 1, f"like_count 1 for alice too, got {as_alice.like_count}")
    check(as_alice.liked is False, f"alice does not like her tweet herself: liked false, got {as_alice.liked!r}")

    step(f"{bob_name} reposts {alice_name}'s tweet")
    reposted: TweetResponse = expect(
        repost_tweet.sync_detailed(client=bob, id=tweet.id), 200, TweetResponse, "repost_tweet"
    )
    check(reposted.id == tweet.id, f"repost_tweet answers the original {tweet.id}, got {reposted.id}")
    check(reposted.repost_count == 1, f"repost_count 1, got {reposted.repost_count}")
    check(reposted.reposted is True, f"reposted true, got {reposted.reposted!r}")
    check(reposted.like_count == 1 and reposted.liked is True, "the original's like is still there")
    bobs: TweetPage = expect(
        list_user_tweets.sync_detailed(client=bob, username=bob_name), 200, TweetPage, "list bob's tweets"
    )
    check(len(bobs.items) == 2, f"bob's tweets: the repost and the reply, got {[t.id for t in bobs.items]}")
    repost, bobs_reply = bobs.items
    check(bobs_reply.id == reply.id, f"the older of bob's tweets is the reply {reply.id}, got {bobs_reply.id}")
    check(repost.id not in (tweet.id, reply.id), f"the repost is a tweet of its own, got id {repost.id}")
    check(repost.author.username == bob_name, f"the repost's author is bob, got {repost.author.username!r}")
    check(repost.text == "", f"a repost's text is empty, got {repost.text!r}")
    check(
        isinstance(repost.repost_of, TweetResponse) and repost.repost_of.id == tweet.id,
        f"the repost's repost_of is alice's tweet {tweet.id}, got {repost.repost_of!r}",
    )
    check(repost.repost_of.author.username == alice_name, "the reposted tweet's author is alice")
    check(repost.repost_count == 1 and repost.reposted is True, "a repost carries the original's count and flag")

    step(
        f"{alice_name} is notified of the follow, reply, like and repost (asynchronous, up to {NOTIFY_WAIT_SECS:.0f} s)"
    )
    wanted = {"follow", "reply", "like", "repost"}
    deadline = time.monotonic() + NOTIFY_WAIT_SECS
    reads = 0
    while True:
        reads += 1
        answer = list_notifications.sync_detailed(client=alice, limit=20)
        check(
            answer.status_code == 200 and isinstance(answer.parsed, NotificationPage),
            f"notifications: {answer.content!r}",
        )
        notes: NotificationPage = answer.parsed
        if wanted <= {n.type_ for n in notes.items}:
            break
        if time.monotonic() > deadline:
            raise ScenarioFailed(
                f"alice's notifications after {NOTIFY_WAIT_SECS} s: {[n.type_ for n in notes.items]}, wanted {sorted(wanted)}"
            )
        time.sleep(0.1)
    print(f"   there after {reads} read(s)", flush=True)
    kinds = [n.type_ for n in notes.items]
    check(sorted(kinds) == sorted(wanted), f"one notification of each kind, got {kinds}")
    ids = [int(n.id) for n in notes.items]
    check(ids == sorted(ids, reverse=True), f"notification ids decrease down the list, got {ids}")
    check(not notes.next_cursor, "a single page of notifications: no next_cursor")
    by_type = {n.type_: n for n in notes.items}
    for kind, note in by_type.items():
        check(note.actor.username == bob_name, f"the {kind} notification's actor is bob, got {note.actor.username!r}")
    check(by_type["follow"].tweet is None, f"a follow notification has no tweet, got {by_type['follow'].tweet!r}")
    for kind, tweet_id in (("like", tweet.id), ("repost", tweet.id), ("reply", reply.id)):
        note_tweet = by_type[kind].tweet
        check(
            isinstance(note_tweet, TweetResponse) and note_tweet.id == tweet_id,
            f"the {kind} notification's tweet is {tweet_id}, got {note_tweet!r}",
        )

    step("The types filter: only likes; an unknown type is a typed Problem (422 validation_failed)")
    likes_only: NotificationPage = expect(
        list_notifications.sync_detailed(client=alice, types="like"),
        200,
        NotificationPage,
        "list_notifications types=like",
    )
    check(
        [n.id for n in likes_only.items] == [by_type["like"].id],
        f"types=like: just the like notification, got {[(n.id, n.type_) for n in likes_only.items]}",
    )
    two_kinds: NotificationPage = expect(
        list_notifications.sync_detailed(client=alice, types="like,reply"),
        200,
        NotificationPage,
        "list_notifications types=like,reply",
    )
    check(
        [n.type_ for n in two_kinds.items] == ["like", "reply"],
        f"types=like,reply: the like and the reply, got {[n.type_ for n in two_kinds.items]}",
    )
    problem: Problem = expect(
        list_notifications.sync_detailed(client=alice, types="like,poke"),
        422,
        Problem,
        "list_notifications types=like,poke",
    )
    check(problem.code == "validation_failed", f"code validation_failed, got {problem.code!r}")
    fields = [e.field for e in problem.errors] if isinstance(problem.errors, list) else []
    check("types" in fields, f"the error names the field types, got {fields}")

    step(f"{alice_name} marks her notifications read")
    unread: UnreadCountResponse = expect(
        get_unread_count.sync_detailed(client=alice), 200, UnreadCountResponse, "get_unread_count"
    )
    check(unread.count > 0, f"unread count > 0, got {unread.count}")
    check(unread.count == len(notes.items), f"unread count {len(notes.items)}, got {unread.count}")
    newest = notes.items[0].id
    expect(
        mark_notifications_read.sync_detailed(client=alice, body=MarkReadRequest(up_to_id=newest)),
        204,
        type(None),
        f"mark_notifications_read up to {newest}",
    )
    unread = expect(
        get_unread_count.sync_detailed(client=alice), 200, UnreadCountResponse, "get_unread_count after read"
    )
    check(unread.count == 0, f"unread count 0 after marking read, got {unread.count}")

    step(f"{alice_name} mutes and unmutes {bob_name}")
    muted: UserResponse = expect(mute.sync_detailed(client=alice, username=bob_name), 200, UserResponse, "mute bob")
    check(muted.username == bob_name, "mute answers the muted user")
    check(muted.muting is True, f"muting true, got {muted.muting!r}")
    check(muted.blocking is False, f"muting is not blocking: blocking false, got {muted.blocking!r}")
    check(muted.followed_by is True, f"the follow stays: followed_by true, got {muted.followed_by!r}")
    mutes: UserPage = expect(list_mutes.sync_detailed(client=alice), 200, UserPage, "list_mutes")
    check([u.username for u in mutes.items] == [bob_name], f"alice's mutes are [{bob_name}]")
    profile: UserResponse = expect(
        get_user.sync_detailed(client=alice, username=bob_name), 200, UserResponse, "get_user bob as alice"
    )
    check(profile.muting is True, f"bob's profile as alice: muting true, got {profile.muting!r}")
    unmuted: UserResponse = expect(
        unmute.sync_detailed(client=alice, username=bob_name), 200, UserResponse, "unmute bob"
    )
    check(unmuted.muting is False, f"muting false, got {unmuted.muting!r}")
    mutes = expect(list_mutes.sync_detailed(client=alice), 200, UserPage, "list_mutes after unmute")
    check(mutes.items == [], f"alice mutes nobody, got {[u.username for u in mutes.items]}")

    step(f"{alice_name} blocks {bob_name}: his like is then refused (403 forbidden)")
    blocked: UserResponse = expect(block.sync_detailed(client=alice, username=bob_name), 200, UserResponse, "block bob")
    check(blocked.username == bob_name, "block answers the blocked user")
    check(blocked.blocking is True, f"blocking true, got {blocked.blocking!r}")
    check(blocked.followed_by is False, f"the block ends bob's follow: followed_by false, got {blocked.followed_by!r}")
    blocks: UserPage = expect(list_blocks.sync_detailed(client=alice), 200, UserPage, "list_blocks")
    check([u.username for u in blocks.items] == [bob_name], f"alice's blocks are [{bob_name}]")
    problem = expect(like_tweet.sync_detailed(client=bob, id=tweet.id), 403, Problem, "bob likes alice's tweet")
    check(problem.code == "forbidden", f"code forbidden, got {problem.code!r}")

    step(f"{alice_name} unblocks {bob_name}")
    unblocked: UserResponse = expect(
        unblock.sync_detailed(client=alice, username=bob_name), 200, UserResponse, "unblock bob"
    )
    check(unblocked.blocking is False, f"blocking false, got {unblocked.blocking!r}")
    blocks = expect(list_blocks.sync_detailed(client=alice), 200, UserPage, "list_blocks after unblock")
    check(blocks.items == [], f"alice blocks nobody, got {[u.username for u in blocks.items]}")


if __name__ == "__main__":
    url = (sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CHIRP_URL", "http://127.0.0.1:8080")).rstrip("/")
    try:
        main(url)
    except ScenarioFailed as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        sys.exit(1)
