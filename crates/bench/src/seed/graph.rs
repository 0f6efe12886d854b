//! Who follows whom, by user index: the generated power-law graph and the Reed98 edge list.
//! Indices are turned into user ids when the graph is written ([`super::run`]).

use std::collections::HashSet;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::SeedArgs;
use crate::Result;

/// Who follows whom, by user index: `following[i]` lists the indices `i` follows.
pub(super) fn powerlaw_graph(args: &SeedArgs, rng: &mut StdRng) -> Vec<Vec<u32>> {
    let n = args.users;
    // Popularity rank -> user index, shuffled so that popularity is unrelated to id.
    let mut by_rank: Vec<u32> = (0..n as u32).collect();
    by_rank.shuffle(rng);
    let mut cdf = Vec::with_capacity(n);
    let mut total = 0.0;
    for r in 0..n {
        total += 1.0 / ((r + 1) as f64).powf(args.zipf_exponent);
        cdf.push(total);
    }
    let max_out = (n - 1).min(2000);
    (0..n)
        .map(|me| {
            // Pareto(scale = min_following, shape = 1.5): mean 3x the scale, a long tail.
            let u: f64 = 1.0 - rng.random::<f64>();
            let degree = ((args.min_following as f64 / u.powf(1.0 / 1.5)) as usize).min(max_out);
            let mut chosen = HashSet::with_capacity(degree);
            let mut tries = 0;
            while chosen.len() < degree && tries < degree * 20 {
                tries += 1;
                let x = rng.random::<f64>() * total;
                let rank = cdf.partition_point(|&c| c < x).min(n - 1);
                let target = by_rank[rank];
                if target as usize != me {
                    chosen.insert(target);
                }
            }
            let mut list: Vec<u32> = chosen.into_iter().collect();
            list.sort_unstable();
            list.shuffle(rng);
            list
        })
        .collect()
}

pub(super) fn reed98_graph(args: &SeedArgs) -> Result<Vec<Vec<u32>>> {
    let text = std::fs::read_to_string(&args.edges)
        .map_err(|e| format!("reading {}: {e}", args.edges.display()))?;
    let mut pairs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('%') || line.starts_with('#') {
            continue;
        }
        let mut it = line.split_whitespace();
        let (Some(a), Some(b)) = (it.next(), it.next()) else {
            return Err(format!("bad edge line {line:?}").into());
        };
        pairs.push((a.parse::<u32>()?, b.parse::<u32>()?));
    }
    let n = pairs.iter().map(|&(a, b)| a.max(b) + 1).max().unwrap_or(0) as usize;
    let mut sets = vec![HashSet::new(); n];
    for (a, b) in pairs {
        if a != b {
            sets[a as usize].insert(b);
            sets[b as usize].insert(a);
        }
    }
    Ok(sets
        .into_iter()
        .map(|s| {
            let mut v: Vec<u32> = s.into_iter().collect();
            v.sort_unstable();
            v
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rand::SeedableRng;

    use super::*;
    use crate::seed::Graph;

    fn args(users: usize) -> SeedArgs {
        SeedArgs {
            redis_url: String::new(),
            users,
            tweets: None,
            seed: 7,
            graph: Graph::Powerlaw,
            edges: PathBuf::new(),
            zipf_exponent: 1.0,
            min_following: 8,
            timeline_cap: 800,
            likes_per_tweet: crate::seed::LIKES_PER_TWEET,
            reposts_per_tweet: crate::seed::REPOSTS_PER_TWEET,
            replies_per_tweet: crate::seed::REPLIES_PER_TWEET,
            quiet: true,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_graph_without_self_or_duplicate_follows() {
        let a = powerlaw_graph(&args(2000), &mut StdRng::seed_from_u64(7));
        let b = powerlaw_graph(&args(2000), &mut StdRng::seed_from_u64(7));
        assert_eq!(a, b);
        for (me, list) in a.iter().enumerate() {
            let set: HashSet<u32> = list.iter().copied().collect();
            assert_eq!(set.len(), list.len());
            assert!(!set.contains(&(me as u32)));
        }
    }

    #[test]
    fn popularity_follows_a_power_law() {
        let graph = powerlaw_graph(&args(5000), &mut StdRng::seed_from_u64(1));
        let mut followers = vec![0usize; graph.len()];
        for list in &graph {
            for &f in list {
                followers[f as usize] += 1;
            }
        }
        followers.sort_unstable_by(|a, b| b.cmp(a));
        // The most followed account is followed by most users; the median one by few.
        assert!(followers[0] > graph.len() / 2, "{}", followers[0]);
        assert!(
            followers[graph.len() / 2] < 20,
            "{}",
            followers[graph.len() / 2]
        );
    }
}
