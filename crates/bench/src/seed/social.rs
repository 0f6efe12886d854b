//! Likes, reposts and replies for the seeded graph, by user and post index: who did what to
//! which post, and when. Ids and keys are given when it is written ([`super::seed`]).
//!
//! # Who engages with what
//! Every like, repost and reply is drawn the way the graph's follows are drawn, by popularity: a
//! follow edge picked uniformly at random (so an author is picked with a probability
//! proportional to their followers, the Zipf popularity of [`super::graph`]), its follower is
//! the one who acts and one of its followee's posts, uniformly, is what they act on. So people
//! engage with what their home timeline shows them, popular accounts gather most of it, and a
//! reply's author and the replied-to author are mostly followed by the same people (which the
//! conversation rule then has to filter). Nobody likes, reposts or answers their own post (no
//! edge is a self-follow), a user likes and reposts a post at most once, and only originals are
//! reposted (reposting a repost reposts its original anyway). A reply may answer a reply, so
//! threads form; likes go to originals and replies.
//!
//! # When
//! Originals are one second apart, as the seed always made them. A repost or a reply comes an
//! exponentially distributed while after its parent (mean [`MEAN_DELAY_MS`], an hour: most
//! engagement with a tweet happens in its first hours), and a like likewise after its post;
//! anything that would land after the seed's "now" is put uniformly between its parent and now.
//! Post ids follow time, so reposts and replies are interleaved with the originals as a live
//! service would number them (with no reposts or replies the originals keep the ids they always
//! had). Like times are made unique across all likes (a clash moves one a millisecond on), so
//! the scores of every like set are unique, as `add_edge.lua` keeps follow sets.

use std::collections::HashSet;

use rand::Rng;
use rand::rngs::StdRng;

/// The mean delay from a post to a repost, reply or like of it.
pub(super) const MEAN_DELAY_MS: f64 = 3_600_000.0;

/// Draws per wanted item before it is given up (the author drawn has no post to act on, or the
/// pair is taken already).
const TRIES: usize = 32;

/// The ancestors a reply's `thread` keeps, the nearest (as the domain copies them).
pub(super) const THREAD_MAX: usize = chirp_domain::store::threads::MAX_ANCESTORS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Original,
    /// A repost of the original post at this index.
    Repost(u32),
    /// A reply to the post at this index (an original or a reply).
    Reply(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Post {
    /// User index.
    pub author: u32,
    pub kind: Kind,
    /// When, in ms since the Unix epoch.
    pub ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Like {
    /// User index.
    pub user: u32,
    /// Post index.
    pub post: u32,
    pub ms: u64,
}

/// What to draw, per original tweet on average.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ratios {
    pub likes: f64,
    pub reposts: f64,
    pub replies: f64,
}

/// Every post (the originals first, at the indices `0..originals`, then the reposts and the
/// replies in the order drawn) and every like.
pub(super) struct Activity {
    pub posts: Vec<Post>,
    pub likes: Vec<Like>,
    /// Post indices in id order (by time; ties in index order).
    pub id_order: Vec<u32>,
}

/// Picks follow edges uniformly: `(follower, followee)` by user index.
struct Edges<'a> {
    following: &'a [Vec<(u32, u64)>],
    /// `cum[i]`: edges of users `0..=i`.
    cum: Vec<u64>,
}

impl<'a> Edges<'a> {
    fn new(following: &'a [Vec<(u32, u64)>]) -> Self {
        let mut total = 0u64;
        let cum = following
            .iter()
            .map(|l| {
                total += l.len() as u64;
                total
            })
            .collect();
        Self { following, cum }
    }

    fn total(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }

    fn pick(&self, rng: &mut StdRng) -> (u32, u32) {
        let x = rng.random_range(0..self.total());
        let i = self.cum.partition_point(|&c| c <= x);
        let before = if i == 0 { 0 } else { self.cum[i - 1] };
        (i as u32, self.following[i][(x - before) as usize].0)
    }
}

/// When something happens to a post made at `parent_ms`, given that it is `now_ms` now.
fn after(rng: &mut StdRng, parent_ms: u64, now_ms: u64) -> u64 {
    if parent_ms + 1 >= now_ms {
        return parent_ms + 1;
    }
    let u: f64 = rng.random();
    let delay = (-(1.0 - u).ln() * MEAN_DELAY_MS) as u64;
    let at = parent_ms + 1 + delay;
    if at < now_ms {
        at
    } else {
        rng.random_range(parent_ms + 1..now_ms)
    }
}

/// `originals[k]` is the author of original `k`, made at `first_ms + 1000 k`; `following` the
/// scored graph; `now_ms` the seed's now.
pub(super) fn draw(
    rng: &mut StdRng,
    originals: &[u32],
    first_ms: u64,
    now_ms: u64,
    following: &[Vec<(u32, u64)>],
    ratios: Ratios,
) -> Activity {
    let n = following.len();
    let mut posts: Vec<Post> = originals
        .iter()
        .enumerate()
        .map(|(k, &author)| Post {
            author,
            kind: Kind::Original,
            ms: first_ms + 1000 * k as u64,
        })
        .collect();
    // What each user has posted that others may repost, and answer or like.
    let mut repostable: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (k, &a) in originals.iter().enumerate() {
        repostable[a as usize].push(k as u32);
    }
    let mut answerable = repostable.clone();
    let edges = Edges::new(following);
    let mut likes = Vec::new();
    let count = |ratio: f64| (ratio.max(0.0) * originals.len() as f64).round() as usize;
    if edges.total() > 0 && !originals.is_empty() {
        // Reposts: once per user and original.
        let mut taken: HashSet<(u32, u32)> = HashSet::new();
        for _ in 0..count(ratios.reposts) {
            for _ in 0..TRIES {
                let (user, author) = edges.pick(rng);
                let own = &repostable[author as usize];
                if own.is_empty() {
                    continue;
                }
                let of = own[rng.random_range(0..own.len())];
                if taken.insert((user, of)) {
                    let ms = after(rng, posts[of as usize].ms, now_ms);
                    posts.push(Post {
                        author: user,
                        kind: Kind::Repost(of),
                        ms,
                    });
                    break;
                }
            }
        }
        // Replies: to originals and to replies drawn before (so threads form).
        for _ in 0..count(ratios.replies) {
            for _ in 0..TRIES {
                let (user, author) = edges.pick(rng);
                let own = &answerable[author as usize];
                if own.is_empty() {
                    continue;
                }
                let to = own[rng.random_range(0..own.len())];
                let ms = after(rng, posts[to as usize].ms, now_ms);
                answerable[user as usize].push(posts.len() as u32);
                posts.push(Post {
                    author: user,
                    kind: Kind::Reply(to),
                    ms,
                });
                break;
            }
        }
        // Likes: once per user and post, of originals and replies.
        let mut taken: HashSet<(u32, u32)> = HashSet::new();
        for _ in 0..count(ratios.likes) {
            for _ in 0..TRIES {
                let (user, author) = edges.pick(rng);
                let own = &answerable[author as usize];
                if own.is_empty() {
                    continue;
                }
                let post = own[rng.random_range(0..own.len())];
                if taken.insert((user, post)) {
                    let ms = after(rng, posts[post as usize].ms, now_ms);
                    likes.push(Like { user, post, ms });
                    break;
                }
            }
        }
        likes.sort_by_key(|l| l.ms);
        for j in 1..likes.len() {
            if likes[j].ms <= likes[j - 1].ms {
                likes[j].ms = likes[j - 1].ms + 1;
            }
        }
    }
    let mut id_order: Vec<u32> = (0..posts.len() as u32).collect();
    id_order.sort_by_key(|&p| posts[p as usize].ms);
    Activity {
        posts,
        likes,
        id_order,
    }
}

impl Activity {
    /// The ancestors of reply `p`, root first, at most [`THREAD_MAX`] (the nearest kept).
    pub(super) fn thread(&self, p: u32) -> Vec<u32> {
        let mut chain = Vec::new();
        let mut at = p;
        while let Kind::Reply(to) = self.posts[at as usize].kind {
            chain.push(to);
            at = to;
        }
        chain.truncate(THREAD_MAX);
        chain.reverse();
        chain
    }

    /// The post a home entry stands for when reposts are deduplicated: a repost's original, or
    /// the post itself.
    pub(super) fn source(&self, p: u32) -> u32 {
        match self.posts[p as usize].kind {
            Kind::Repost(of) => of,
            _ => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// 50 users, each following the next 10 (mod 50); 500 originals round-robin.
    fn world() -> (Vec<u32>, Vec<Vec<(u32, u64)>>) {
        let following = (0..50u32)
            .map(|i| (1..=10).map(|d| ((i + d) % 50, 0)).collect())
            .collect();
        let originals = (0..500u32).map(|k| k % 50).collect();
        (originals, following)
    }

    const NOW: u64 = 10_000_000;
    const FIRST: u64 = NOW - 500_000;

    fn activity(seed: u64) -> Activity {
        let (originals, following) = world();
        let ratios = Ratios {
            likes: 2.0,
            reposts: 0.3,
            replies: 0.5,
        };
        draw(
            &mut StdRng::seed_from_u64(seed),
            &originals,
            FIRST,
            NOW,
            &following,
            ratios,
        )
    }

    #[test]
    fn the_ratios_are_met_and_nobody_acts_on_their_own_posts_or_twice() {
        let a = activity(3);
        let count = |f: fn(&Kind) -> bool| a.posts.iter().filter(|p| f(&p.kind)).count();
        assert_eq!(count(|k| *k == Kind::Original), 500);
        assert_eq!(count(|k| matches!(k, Kind::Repost(_))), 150);
        assert_eq!(count(|k| matches!(k, Kind::Reply(_))), 250);
        assert_eq!(a.likes.len(), 1000);
        let mut reposted = HashSet::new();
        for p in &a.posts {
            match p.kind {
                Kind::Original => {}
                Kind::Repost(of) => {
                    let of = &a.posts[of as usize];
                    assert_eq!(of.kind, Kind::Original);
                    assert_ne!(of.author, p.author);
                    assert!(p.ms > of.ms && p.ms < NOW);
                    assert!(reposted.insert((p.author, of.ms)));
                }
                Kind::Reply(to) => {
                    let to = &a.posts[to as usize];
                    assert!(!matches!(to.kind, Kind::Repost(_)));
                    assert_ne!(to.author, p.author);
                    assert!(p.ms > to.ms && p.ms < NOW);
                }
            }
        }
        let mut liked = HashSet::new();
        for (j, l) in a.likes.iter().enumerate() {
            let post = &a.posts[l.post as usize];
            assert!(!matches!(post.kind, Kind::Repost(_)));
            assert_ne!(post.author, l.user);
            assert!(l.ms > post.ms);
            assert!(liked.insert((l.user, l.post)));
            assert!(j == 0 || l.ms > a.likes[j - 1].ms, "like times are unique");
        }
    }

    #[test]
    fn ids_follow_time_and_originals_keep_their_order() {
        let a = activity(5);
        assert_eq!(a.id_order.len(), a.posts.len());
        let times: Vec<u64> = a.id_order.iter().map(|&p| a.posts[p as usize].ms).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        let originals: Vec<u32> = a.id_order.iter().copied().filter(|&p| p < 500).collect();
        assert_eq!(originals, (0..500).collect::<Vec<_>>());
        // A thread is its reply's ancestors, root first, each older than the next.
        for p in 0..a.posts.len() as u32 {
            let thread = a.thread(p);
            if let Kind::Reply(to) = a.posts[p as usize].kind {
                assert_eq!(thread.last(), Some(&to));
                assert_eq!(a.posts[thread[0] as usize].kind, Kind::Original);
                assert!(
                    thread
                        .windows(2)
                        .all(|w| a.posts[w[0] as usize].ms < a.posts[w[1] as usize].ms)
                );
            } else {
                assert!(thread.is_empty());
            }
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_and_no_ratio_draws_nothing() {
        let (x, y) = (activity(9), activity(9));
        assert_eq!(x.posts, y.posts);
        assert_eq!(x.likes, y.likes);
        let (originals, following) = world();
        let none = Ratios {
            likes: 0.0,
            reposts: 0.0,
            replies: 0.0,
        };
        let a = draw(
            &mut StdRng::seed_from_u64(1),
            &originals,
            FIRST,
            NOW,
            &following,
            none,
        );
        assert_eq!(a.posts.len(), 500);
        assert!(a.likes.is_empty());
        assert_eq!(a.id_order, (0..500).collect::<Vec<_>>());
    }
}
