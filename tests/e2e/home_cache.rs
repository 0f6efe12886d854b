//! Home timelines as a cache (API.md "Inactive users"): inactive users get no fan-out writes
//! and their homes expire; a home that is missing (expired, evicted, flushed) is rebuilt on its
//! next read, which answers 206 until the rebuild is done, then 200 with the exact timeline.

use std::time::Duration;

use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_e2e::{AppOptions, TestApp};
use chirp_testkit::TestConn;

/// Every raw member of `user`'s home in Redis, newest first, and whether it is marked built.
async fn raw_home(conn: &mut TestConn, user: UserId) -> (Vec<String>, bool) {
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg(keys::home(user))
        .arg(0)
        .arg(-1)
        .arg("REV")
        .query_async(conn)
        .await
        .unwrap();
    let built = members.iter().any(|m| m == "0");
    (members.into_iter().filter(|m| m != "0").collect(), built)
}

/// The `rebuild` entries on the fan-out streams (none are trimmed while no worker runs).
async fn rebuild_events(app: &TestApp, conn: &mut TestConn) -> usize {
    let mut count = 0;
    for shard in app.fanout_shards().all() {
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(&shard.events)
            .arg("-")
            .arg("+")
            .query_async(conn)
            .await
            .unwrap();
        count += entries
            .iter()
            .filter(|(_, fields)| fields.iter().any(|(k, v)| k == "kind" && v == "rebuild"))
            .count();
    }
    count
}

/// alice follows bob and carol, who post; returns (alice's token, her home, newest first).
async fn alice_with_a_home(app: &TestApp) -> (String, Vec<String>) {
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    let carol = app.token("carol").await;
    app.follow(&alice, "bob").await;
    app.follow(&alice, "carol").await;
    let mut posted = Vec::new();
    for i in 0..4 {
        posted.push(app.tweet(&bob, &format!("bob {i}")).await);
        posted.push(app.tweet(&carol, &format!("carol {i}")).await);
    }
    posted.push(app.tweet(&alice, "mine").await);
    posted.reverse();
    app.wait_home(&alice, &posted).await;
    (alice, posted)
}

#[tokio::test]
async fn a_new_account_reads_200_and_its_home_is_marked_built() {
    let app = TestApp::spawn().await;
    let token = app.token("newcomer").await;
    let (status, ids, _) = app.home_answer(&token, "limit=20").await;
    assert_eq!((status, ids.len()), (200, 0));
    let mut conn = app.redis.async_conn().await;
    let (members, built) = raw_home(&mut conn, app.user_id(&token).await).await;
    assert!(built && members.is_empty(), "{members:?}");
}

#[tokio::test]
async fn a_lost_home_is_rebuilt_answering_206_then_200_exactly_as_before() {
    let app = TestApp::spawn().await;
    let (alice, before) = alice_with_a_home(&app).await;
    let mut conn = app.redis.async_conn().await;
    // What eviction, expiry or a flushed node does.
    let _: () = redis::cmd("DEL")
        .arg(keys::home(app.user_id(&alice).await))
        .query_async(&mut conn)
        .await
        .unwrap();
    let (status, partial, _) = app.home_answer(&alice, "limit=100").await;
    assert!(status == 206 || partial == before, "{status} {partial:?}");
    assert!(partial.iter().all(|id| before.contains(id)), "{partial:?}");
    assert_eq!(app.wait_home_built(&alice).await, before);
    // Paging over the rebuilt home is exact too.
    assert_eq!(
        app.all_ids("/v1/timelines/home", Some(&alice), 3).await,
        before
    );
}

#[tokio::test]
async fn concurrent_reads_on_two_api_processes_start_one_rebuild() {
    let app = TestApp::spawn_without_worker().await;
    let alice = app.token("alice").await;
    let bob = app.token("bob").await;
    app.follow(&alice, "bob").await;
    let posted = app.tweet(&bob, "before the loss").await;
    let mut conn = app.redis.async_conn().await;
    let _: () = redis::cmd("DEL")
        .arg(keys::home(app.user_id(&alice).await))
        .query_async(&mut conn)
        .await
        .unwrap();
    // A second API process on the same Redis.
    let other = TestApp::spawn_api_beside(&app).await;
    let reads = (0..12).map(|i| {
        let base = if i % 2 == 0 { &app.address } else { &other };
        let request = app
            .client
            .get(format!("{base}/v1/timelines/home?limit=20"))
            .bearer_auth(&alice);
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures_util::future::join_all(reads).await;
    assert!(statuses.iter().all(|&s| s == 206), "{statuses:?}");
    assert_eq!(rebuild_events(&app, &mut conn).await, 1);

    let mut app = app;
    app.start_worker(800).await;
    assert_eq!(app.wait_home_built(&alice).await, [posted]);
}

#[tokio::test]
async fn a_rebuild_cut_short_leaves_the_home_unbuilt_and_the_next_one_completes_it() {
    let mut app = TestApp::spawn().await;
    let (alice, before) = alice_with_a_home(&app).await;
    app.stop_worker().await;
    let user = app.user_id(&alice).await;
    let mut conn = app.redis.async_conn().await;
    // A worker that died mid-rebuild: part of the home written, no marker, its lock held.
    let _: () = redis::pipe()
        .del(keys::home(user))
        .zadd(keys::home(user), &before[0], &before[0])
        .set(keys::rebuild_lock(user), "1")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (status, ids, _) = app.home_answer(&alice, "limit=100").await;
    assert_eq!((status, ids), (206, vec![before[0].clone()]));
    assert_eq!(rebuild_events(&app, &mut conn).await, 0, "the lock is held");
    // The lock expires (here: removed), the next read asks again, and a worker finishes it.
    let _: () = redis::cmd("DEL")
        .arg(keys::rebuild_lock(user))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(app.home_answer(&alice, "limit=100").await.0, 206);
    app.start_worker(800).await;
    assert_eq!(app.wait_home_built(&alice).await, before);
}

#[tokio::test]
async fn an_inactive_user_gets_no_fan_out_and_finds_an_exact_home_on_return() {
    // Inactive after 2 s of no request (the touch interval is then 250 ms).
    let app = TestApp::spawn_with(AppOptions {
        inactive_after_secs: Some(2),
        ..AppOptions::default()
    })
    .await;
    let (alice, mut before) = alice_with_a_home(&app).await;
    let bob = app.token("bob2").await;
    app.follow(&alice, "bob2").await;
    let mut conn = app.redis.async_conn().await;
    let user = app.user_id(&alice).await;
    // alice goes quiet; bob2 keeps his session alive by posting.
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let while_away = app.tweet(&bob, "while alice was away").await;
    app.wait_fanout_drained().await;
    let (members, _) = raw_home(&mut conn, user).await;
    assert!(
        !members.contains(&while_away),
        "fan-out wrote to an inactive home"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(keys::home(user))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl <= 2_250, "the home expires with inactivity: PTTL {ttl}");

    // Back: her first request marks the home for a rebuild, which brings what she missed.
    before.insert(0, while_away);
    let (status, _, _) = app.home_answer(&alice, "limit=100").await;
    assert_eq!(status, 206);
    assert_eq!(app.wait_home_built(&alice).await, before);
    // Active again: the fan-out writes her home once more.
    let next = app.tweet(&bob, "alice is back").await;
    before.insert(0, next);
    app.wait_home(&alice, &before).await;
}

/// `used_memory` of one Redis, and the sum over its keys of `MEMORY USAGE` of those with a TTL.
async fn memory_of(url: &str, homes: &[UserId]) -> (u64, u64) {
    let mut conn = chirp_testkit::connect(url).await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .unwrap();
    let used = info_field(&info, "used_memory");
    let mut evictable = 0;
    for &user in homes {
        let usage: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(keys::home(user))
            .query_async(&mut conn)
            .await
            .unwrap_or(None);
        evictable += usage.unwrap_or(0);
    }
    (used, evictable)
}

fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// With the `maxmemory-policy` the README documents (`volatile-lru`: only keys with a TTL may
/// go), a Redis squeezed below the memory it uses evicts home timelines and nothing that is not
/// rebuildable or expendable: every account, session, tweet and follow survives, and every
/// evicted home is rebuilt exactly on its next read.
#[tokio::test]
async fn a_redis_out_of_memory_evicts_only_rebuildable_keys() {
    let app = TestApp::spawn_with(AppOptions {
        redis_args: vec!["--maxmemory-policy".into(), "volatile-lru".into()],
        ..AppOptions::default()
    })
    .await;
    const USERS: usize = 24;
    let mut tokens = Vec::new();
    for i in 0..USERS {
        tokens.push(app.token(&format!("user{i}")).await);
    }
    for (i, token) in tokens.iter().enumerate() {
        for k in 1..=6 {
            app.follow(token, &format!("user{}", (i + k) % USERS)).await;
        }
    }
    let mut tweets = Vec::new();
    for round in 0..6 {
        for token in &tokens {
            tweets.push(
                app.tweet(token, &format!("round {round} of {}", tweets.len()))
                    .await,
            );
        }
    }
    app.wait_fanout_drained().await;
    let mut before = Vec::new();
    for token in &tokens {
        before.push(app.home_ids(token).await);
    }
    let mut users = Vec::new();
    for token in &tokens {
        users.push(app.user_id(token).await);
    }

    // Squeeze every master to half of what its homes take below the memory it uses: its next
    // commands evict until it fits.
    let mut evicted = 0;
    for url in app.redis.master_urls() {
        let (used, evictable) = memory_of(&url, &users).await;
        assert!(evictable > 0, "{url}: no home to evict");
        let mut conn = chirp_testkit::connect(&url).await.unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(used.saturating_sub(evictable / 2).max(1))
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: () = redis::cmd("PING").query_async(&mut conn).await.unwrap();
        let stats: String = redis::cmd("INFO")
            .arg("stats")
            .query_async(&mut conn)
            .await
            .unwrap();
        evicted += info_field(&stats, "evicted_keys");
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(0)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    assert!(
        evicted > 0,
        "nothing was evicted: the scenario proved nothing"
    );

    // Nothing but rebuildable keys went: every session answers, every tweet is there, every
    // follow list is whole, and every home comes back exactly as it was.
    let mut conn = app.redis.async_conn().await;
    for (i, token) in tokens.iter().enumerate() {
        let me = app.get("/v1/me", Some(token)).await;
        assert_eq!(me.status(), 200, "user{i}'s session");
        let following: usize = redis::cmd("ZCARD")
            .arg(keys::following(users[i]))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(following, 6, "user{i}'s follows");
    }
    for id in &tweets {
        let response = app.get(&format!("/v1/tweets/{id}"), None).await;
        assert_eq!(response.status(), 200, "tweet {id}");
    }
    let mut rebuilt = 0;
    for (token, before) in tokens.iter().zip(&before) {
        rebuilt += usize::from(app.home_answer(token, "limit=100").await.0 == 206);
        assert_eq!(&app.wait_home_built(token).await, before);
    }
    assert!(rebuilt > 0, "no home was evicted");
}
