//! The check every scenario ends with: each home timeline holds exactly what it should, once, and
//! nothing was dead-lettered.

use std::collections::{BTreeMap, HashSet};

use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_testkit::{connect_any, dead_letters_at};

use super::{Deployment, Graph, Posted, TIMELINE_CAP};

/// The heart of every scenario: each reader's home timeline holds exactly the newest
/// [`TIMELINE_CAP`] tweets of the authors it follows (each author's own: its own tweets), each
/// once, and nothing else; and no fan-out was given up on (the dead-letter stream is empty).
/// Readers with a token are also read through the API, page by page.
pub async fn assert_every_home_exact(deployment: &Deployment, graph: &Graph, posted: &Posted) {
    let all: Vec<u64> = posted.by_author.iter().flatten().copied().collect();
    let unique: HashSet<u64> = all.iter().copied().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "two posts answered with the same id"
    );
    let author_of: BTreeMap<u64, usize> = posted
        .by_author
        .iter()
        .enumerate()
        .flat_map(|(a, ids)| ids.iter().map(move |&id| (id, a)))
        .collect();
    let expected_home = |follows: &[usize]| -> Vec<u64> {
        let mut ids: Vec<u64> = follows
            .iter()
            .flat_map(|&a| posted.by_author[a].iter().copied())
            .collect();
        ids.sort_unstable_by(|x, y| y.cmp(x));
        ids.truncate(TIMELINE_CAP);
        ids
    };

    let mut owners: Vec<(String, u64, Vec<u64>)> = graph
        .readers
        .iter()
        .map(|r| {
            let who = format!("reader {} (follows authors {:?})", r.id, r.follows);
            (who, r.id, expected_home(&r.follows))
        })
        .collect();
    owners.extend(graph.authors.iter().enumerate().map(|(a, author)| {
        (
            format!("author {}", author.id),
            author.id,
            expected_home(&[a]),
        )
    }));

    // One command per timeline, all at once: on a cluster they live in many slots.
    let conn = connect_any(&deployment.redis_url()).await.expect("redis");
    let reads = owners.iter().map(|(_, id, _)| {
        let mut conn = conn.clone();
        let key = keys::home(UserId::new(*id));
        async move {
            // Every tweet entry, above the built marker (score 0).
            redis::cmd("ZRANGE")
                .arg(key)
                .arg("+inf")
                .arg("(0")
                .arg("BYSCORE")
                .arg("REV")
                .query_async::<Vec<u64>>(&mut conn)
                .await
        }
    });
    let homes: Vec<Vec<u64>> = futures_util::future::try_join_all(reads)
        .await
        .expect("home timelines");

    let mut wrong = Vec::new();
    for ((who, _, expected), actual) in owners.iter().zip(&homes) {
        if actual != expected {
            let have: HashSet<u64> = actual.iter().copied().collect();
            let want: HashSet<u64> = expected.iter().copied().collect();
            let describe = |ids: Vec<u64>| -> Vec<String> {
                ids.into_iter()
                    .map(|id| match author_of.get(&id) {
                        Some(a) => format!("{id} (author{a})"),
                        None => format!("{id} (never answered 201)"),
                    })
                    .collect()
            };
            let mut missing: Vec<u64> = want.difference(&have).copied().collect();
            let mut extra: Vec<u64> = have.difference(&want).copied().collect();
            missing.sort_unstable();
            extra.sort_unstable();
            wrong.push(format!(
                "{who}: {} entries, expected {}; missing {:?}; extra {:?}",
                actual.len(),
                expected.len(),
                describe(missing),
                describe(extra)
            ));
        }
    }
    let dead = dead_letters_at(&deployment.redis_url())
        .await
        .expect("XRANGE dead letters");
    assert!(
        wrong.is_empty() && dead.is_empty(),
        "{} of {} home timelines are wrong (first 10 below); dead letters: {dead:?}\n{}",
        wrong.len(),
        owners.len(),
        wrong
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    for reader in &graph.readers {
        let Some(token) = &reader.token else { continue };
        let through_api = deployment.api.home(token).await;
        let distinct: HashSet<u64> = through_api.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            through_api.len(),
            "reader {} sees a tweet twice through the API",
            reader.id
        );
        assert_eq!(
            through_api,
            expected_home(&reader.follows),
            "reader {} through the API",
            reader.id
        );
    }
    println!(
        "{} home timelines exact ({} tweets posted)",
        owners.len(),
        posted.total()
    );
}
