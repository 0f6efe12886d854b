//! Large accounts (API.md "Large accounts"): an author above the threshold is not fanned out;
//! their tweets are merged into their followers' home reads, with the same observable behaviour
//! as a pushed timeline, and an account crossing the threshold either way keeps every home
//! exact. The threshold is 3 followers here (back to fan-out on write below 2).

use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_e2e::{AppOptions, TestApp};
use chirp_testkit::{TestConn, eventually};

const THRESHOLD: u64 = 3;

pub(crate) async fn spawn() -> TestApp {
    TestApp::spawn_with(AppOptions {
        celebrity_followers: Some(THRESHOLD),
        ..AppOptions::default()
    })
    .await
}

async fn state(conn: &mut TestConn, user: UserId) -> Option<String> {
    redis::cmd("HGET")
        .arg(keys::celebrity(user))
        .arg("state")
        .query_async(conn)
        .await
        .unwrap()
}

async fn in_raw_home(conn: &mut TestConn, owner: UserId, id: &str) -> bool {
    let score: Option<f64> = redis::cmd("ZSCORE")
        .arg(keys::home(owner))
        .arg(id)
        .query_async(conn)
        .await
        .unwrap();
    score.is_some()
}

/// `star` with `n` followers `fan0..`; a post then starts the passage to merge on read, which
/// the test waits for. Returns the followers' tokens and the star's posts so far.
pub(crate) async fn star_with_fans(app: &TestApp, n: usize) -> (String, Vec<String>, Vec<String>) {
    let star = app.token("star").await;
    let mut fans = Vec::new();
    for i in 0..n {
        let fan = app.token(&format!("fan{i}")).await;
        app.follow(&fan, "star").await;
        fans.push(fan);
    }
    let first = app.tweet(&star, "crossing").await;
    app.wait_fanout_drained().await;
    let mut conn = app.redis.async_conn().await;
    let user = app.user_id(&star).await;
    eventually("the star to be merged on read", || async {
        let mut conn = conn.clone();
        (state(&mut conn, user).await.as_deref() == Some("pull")).then_some(())
    })
    .await;
    assert_eq!(state(&mut conn, user).await.as_deref(), Some("pull"));
    (star, fans, vec![first])
}

#[tokio::test]
async fn a_large_accounts_tweets_are_merged_on_read_with_exact_pages() {
    let app = spawn().await;
    let (star, fans, mut star_posts) = star_with_fans(&app, 4).await;
    let plain = app.token("plain").await;
    app.follow(&fans[0], "plain").await;
    let mut conn = app.redis.async_conn().await;
    let fan0 = app.user_id(&fans[0]).await;

    // Interleaved: the star's posts (merged) and a followed ordinary author's (pushed).
    let mut expected = star_posts.clone();
    for i in 0..5 {
        let s = app.tweet(&star, &format!("star {i}")).await;
        let p = app.tweet(&plain, &format!("plain {i}")).await;
        star_posts.push(s.clone());
        expected.extend([s, p]);
    }
    app.wait_fanout_drained().await;
    expected.reverse();
    assert_eq!(app.home_ids(&fans[0]).await, expected);
    // The star's newest post never went into a home: it is merged on read.
    assert!(!in_raw_home(&mut conn, fan0, &star_posts[5]).await);
    // Exact paging across the sources, and since_id.
    assert_eq!(
        app.all_ids("/v1/timelines/home", Some(&fans[0]), 2).await,
        expected
    );
    let since = &expected[4];
    let (newer, _) = app
        .page_ids(
            &format!("/v1/timelines/home?limit=100&since_id={since}"),
            Some(&fans[0]),
        )
        .await;
    assert_eq!(newer, expected[..4]);

    // A delete leaves every home; an unfollow and a mute take the star out of one.
    let doomed = expected.iter().position(|id| *id == star_posts[3]).unwrap();
    let doomed = expected.remove(doomed);
    app.request(reqwest::Method::DELETE, &format!("/v1/tweets/{doomed}"))
        .bearer_auth(&star)
        .send()
        .await
        .unwrap();
    assert_eq!(app.home_ids(&fans[0]).await, expected);
    app.unfollow(&fans[1], "star").await;
    app.wait_fanout_drained().await;
    assert!(app.home_ids(&fans[1]).await.is_empty());
    app.mute(&fans[2], "star").await;
    app.block(&fans[3], "star").await;
    app.wait_fanout_drained().await;
    assert!(app.home_ids(&fans[2]).await.is_empty());
    assert!(app.home_ids(&fans[3]).await.is_empty());
}

#[tokio::test]
async fn a_merged_home_keeps_the_timeline_cap() {
    const CAP: usize = 5;
    let app = TestApp::spawn_with(AppOptions {
        celebrity_followers: Some(THRESHOLD),
        timeline_cap: CAP as u32,
        ..AppOptions::default()
    })
    .await;
    let (star, fans, first) = star_with_fans(&app, 4).await;
    let plain = app.token("plain").await;
    app.follow(&fans[0], "plain").await;
    let mut all = first;
    for i in 0..4 {
        all.push(app.tweet(&star, &format!("star {i}")).await);
        all.push(app.tweet(&plain, &format!("plain {i}")).await);
    }
    app.wait_fanout_drained().await;
    all.reverse();
    // The newest CAP of both sources, however it is paged.
    assert_eq!(app.home_ids(&fans[0]).await, all[..CAP]);
    for limit in [1, 2, 3] {
        assert_eq!(
            app.all_ids("/v1/timelines/home", Some(&fans[0]), limit)
                .await,
            all[..CAP],
            "pages of {limit}"
        );
    }
}

#[tokio::test]
async fn a_large_accounts_replies_and_reposts_follow_the_fan_out_rules() {
    let app = spawn().await;
    let (star, fans, first) = star_with_fans(&app, 4).await;
    let plain = app.token("plain").await;
    app.follow(&fans[0], "plain").await;
    let theirs = app.tweet(&plain, "something to answer").await;
    app.wait_fanout_drained().await;
    // The conversation rule: fan0 follows plain and sees the reply; fan3 does not.
    let reply = app.reply_id(&star, &theirs, "an answer").await;
    app.wait_fanout_drained().await;
    assert_eq!(
        app.home_ids(&fans[0]).await,
        [reply.as_str(), theirs.as_str(), first[0].as_str()]
    );
    assert_eq!(app.home_ids(&fans[3]).await, [first[0].as_str()]);
    // The repost dedupe: fan0 shows the original already; fan3 gets the repost.
    let repost = app.repost_as(&star, "star", &theirs).await;
    app.wait_fanout_drained().await;
    assert_eq!(
        app.home_ids(&fans[0]).await,
        [reply.as_str(), theirs.as_str(), first[0].as_str()]
    );
    assert_eq!(
        app.home_ids(&fans[3]).await,
        [repost.as_str(), first[0].as_str()]
    );
}

#[tokio::test]
async fn crossing_the_threshold_both_ways_under_concurrent_posting_keeps_every_home_exact() {
    let app = spawn().await;
    let star = app.token("star").await;
    let mut fans = Vec::new();
    for i in 0..6 {
        fans.push(app.token(&format!("fan{i}")).await);
    }
    let user = app.user_id(&star).await;
    // The star posts all along while followers come (past the threshold) and go (below nine
    // tenths of it); fewer posts than a follow back-fills, so every follower, whenever they
    // came, ends up with all of them.
    let posting = async {
        let mut posted = Vec::new();
        for i in 0..30 {
            posted.push(app.tweet(&star, &format!("live {i}")).await);
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        }
        posted
    };
    let churn = async {
        for fan in &fans {
            app.follow(fan, "star").await;
            tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        for fan in &fans[..5] {
            app.unfollow(fan, "star").await;
            tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        }
    };
    let (mut posted, ()) = tokio::join!(posting, churn);
    // One more post settles whatever passage the last one started.
    app.wait_fanout_drained().await;
    posted.push(app.tweet(&star, "settled").await);
    app.wait_fanout_drained().await;
    posted.reverse();
    let mut conn = app.redis.async_conn().await;
    assert_eq!(
        state(&mut conn, user).await,
        None,
        "back to fan-out on write"
    );
    assert_eq!(
        app.all_ids("/v1/timelines/home", Some(&fans[5]), 7).await,
        posted
    );
    for fan in &fans[..5] {
        assert!(app.home_ids(fan).await.is_empty());
    }
    // Handed back: the remaining follower's home holds every post, and merges nothing.
    let fan5 = app.user_id(&fans[5]).await;
    for id in &posted {
        assert!(
            in_raw_home(&mut conn, fan5, id).await,
            "{id} not pushed back"
        );
    }
    let celebs: Vec<u64> = redis::cmd("ZRANGE")
        .arg(keys::celebs(fan5))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(celebs.is_empty(), "{celebs:?}");
}
