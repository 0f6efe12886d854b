//! The people of a scenario: authors who post, and readers whose home timelines are checked,
//! following the authors at random.

use chirp_domain::fanout::{Fanout, Tuning};
use chirp_domain::model::{DisplayName, UserId, Username};
use chirp_domain::social::Social;
use chirp_domain::store::Limits;
use chirp_domain::{Store, redis_pool};
use futures_util::StreamExt;
use rand::Rng;
use rand::rngs::StdRng;

use super::{Deployment, TIMELINE_CAP};

pub struct Author {
    pub username: String,
    pub id: u64,
    pub token: String,
}

/// A user whose home timeline is checked: which authors it follows, and a token when it was
/// registered through the API (then its timeline is also read through the API).
pub struct Reader {
    pub id: u64,
    pub follows: Vec<usize>,
    pub token: Option<String>,
}

pub struct Graph {
    pub authors: Vec<Author>,
    pub readers: Vec<Reader>,
}

/// Registers `odds.len()` authors and two API readers (one following everyone, one following the
/// last author) through the API, and `followers` more readers through the domain's `Store`
/// (the API's own code path, without an HTTP round trip and a password hash each), each
/// following author `a` with probability `odds[a]`, some of them nobody at all.
pub async fn build_graph(
    deployment: &Deployment,
    rng: &mut StdRng,
    followers: usize,
    odds: &[f64],
) -> Graph {
    let api = &deployment.api;
    let mut authors = Vec::new();
    for a in 0..odds.len() {
        let username = format!("author{a}");
        let (token, id) = api.register(&username).await;
        authors.push(Author {
            username,
            id,
            token,
        });
    }
    let mut readers = Vec::new();
    for (name, follows) in [
        ("reader_all", (0..authors.len()).collect::<Vec<_>>()),
        ("reader_last", vec![authors.len() - 1]),
    ] {
        let (token, id) = api.register(name).await;
        for &a in &follows {
            api.follow(&token, &authors[a].username).await;
        }
        readers.push(Reader {
            id,
            follows,
            token: Some(token),
        });
    }

    let target = redis_pool::Target::resolve(&deployment.redis_url(), Default::default())
        .await
        .expect("the deployment's Redis");
    let limits = Limits {
        timeline_cap: TIMELINE_CAP,
        ..Limits::default()
    };
    let store = Store::open(&target, 16, limits, false)
        .await
        .expect("a store");
    let plans: Vec<(usize, Vec<usize>)> = (0..followers)
        .map(|i| {
            let follows = (0..odds.len())
                .filter(|&a| rng.random_bool(odds[a]))
                .collect();
            (i, follows)
        })
        .collect();
    let author_ids: Vec<u64> = authors.iter().map(|a| a.id).collect();
    let created: Vec<Reader> = futures_util::stream::iter(plans)
        .map(|(i, follows)| {
            let store = store.clone();
            let author_ids = author_ids.clone();
            async move {
                let name = Username::parse(&format!("fol{i}")).expect("username");
                let display = DisplayName::parse(&format!("Follower {i}")).expect("display name");
                // Not a password hash: these users never log in.
                let id = store
                    .create_user(&name, &display, "!")
                    .await
                    .expect("create follower");
                let social = Social::new(Fanout::new(store.clone(), Tuning::default()));
                for &a in &follows {
                    social
                        .set_following(id, UserId::new(author_ids[a]), true)
                        .await
                        .expect("follow");
                }
                Reader {
                    id: id.get(),
                    follows,
                    token: None,
                }
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    readers.extend(created);
    let per_author: Vec<usize> = (0..authors.len())
        .map(|a| readers.iter().filter(|r| r.follows.contains(&a)).count())
        .collect();
    println!(
        "graph: {} readers, followers per author {per_author:?}",
        readers.len()
    );
    Graph { authors, readers }
}
