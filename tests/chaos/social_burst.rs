//! The social layer (issue 13) under faults: kill -9 of workers in a burst of likes, reposts,
//! follows, replies and mentions, after which every notification is there exactly once; and
//! reposts racing their original's delete, after which no repost of a deleted tweet is left
//! anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use chirp_domain::keys;
use chirp_domain::model::UserId;
use chirp_testkit::{TestRedis, dead_letters_at, poll_every};
use futures_util::StreamExt;
use futures_util::future::{join, join_all};
use futures_util::stream::FuturesUnordered;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::harness::{
    Answer, Deployment, ExpectedNotices, Http, Member, SLOW_DEADLINE, assert_notifications_exact,
    describe_dead, heavy_slot, id_of, last_tweet_id, register_members, seeded_rng, take_retried,
    wait_until_holding, zset_members,
};

/// Users of the burst, each with [`TWEETS_EACH`] tweets and [`FOLLOWS_EACH`] follows first.
const USERS: usize = 30;
const TWEETS_EACH: usize = 5;
const FOLLOWS_EACH: usize = 4;
/// Reposts made before the burst, for the burst to like, repost and reply to.
const SETUP_REPOSTS: usize = 12;
/// Worker kills during the burst.
const KILLS: usize = 4;
/// Actions of the burst in flight at once.
const IN_FLIGHT: usize = 16;

/// Something the burst acts on: a tweet or a repost (`id`), the original it stands for, and
/// that original's author (an index into the members).
#[derive(Debug, Clone, Copy)]
struct Target {
    id: u64,
    original: u64,
    author: usize,
}

/// How a like, repost or follow is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    /// One PUT.
    Once,
    /// Two identical PUTs at once (a client retrying too early).
    Twice,
    /// PUT, DELETE, PUT: done, undone and done again, which must not notify again.
    Undone,
}

#[derive(Debug, Clone)]
enum Action {
    Like(usize, Target, Again),
    Repost(usize, Target, Again),
    /// Member `.0` follows member `.1`.
    Follow(usize, usize, Again),
    /// A tweet (a reply to `parent` when given) whose text mentions `mentions` (members, some
    /// of them twice or the poster itself) and maybe a name nobody has.
    Post {
        user: usize,
        parent: Option<Target>,
        mentions: Vec<usize>,
        text: String,
        key: String,
    },
}

/// An action the burst performed (every answer as it must be), and for a post its tweet's id.
struct Done {
    action: Action,
    created: Option<u64>,
}

/// What the performed actions must have made: each user's notifications, and each original's
/// likers, reposters and replies.
#[derive(Default)]
struct Model {
    notices: ExpectedNotices,
    likers: BTreeMap<u64, BTreeSet<usize>>,
    reposters: BTreeMap<u64, BTreeSet<usize>>,
    replies: BTreeMap<u64, usize>,
}

impl Model {
    fn like(&mut self, members: &[Member], user: usize, target: Target) {
        self.likers.entry(target.original).or_default().insert(user);
        let (author, actor) = (members[target.author].id, members[user].id);
        self.notices
            .add(author, "like", actor, Some(target.original));
    }

    fn repost(&mut self, members: &[Member], user: usize, target: Target) {
        self.reposters
            .entry(target.original)
            .or_default()
            .insert(user);
        let (author, actor) = (members[target.author].id, members[user].id);
        self.notices
            .add(author, "repost", actor, Some(target.original));
    }

    fn follow(&mut self, members: &[Member], user: usize, whom: usize) {
        self.notices
            .add(members[whom].id, "follow", members[user].id, None);
    }

    /// Tweet `id` by `user`: a reply notifies the parent's author (`reply`), and each mentioned
    /// user but the poster and that author (`mention`, once however often named).
    fn post(
        &mut self,
        members: &[Member],
        user: usize,
        id: u64,
        parent: Option<Target>,
        mentions: &[usize],
    ) {
        let actor = members[user].id;
        if let Some(p) = parent {
            *self.replies.entry(p.original).or_default() += 1;
            self.notices
                .add(members[p.author].id, "reply", actor, Some(id));
        }
        for &m in mentions.iter().collect::<BTreeSet<_>>() {
            if Some(m) != parent.map(|p| p.author) {
                self.notices.add(members[m].id, "mention", actor, Some(id));
            }
        }
    }

    fn record(&mut self, members: &[Member], done: &Done) {
        match &done.action {
            &Action::Like(user, target, _) => self.like(members, user, target),
            &Action::Repost(user, target, _) => self.repost(members, user, target),
            &Action::Follow(user, whom, _) => self.follow(members, user, whom),
            Action::Post {
                user,
                parent,
                mentions,
                ..
            } => {
                let id = done.created.expect("a post's id");
                self.post(members, *user, id, *parent, mentions);
            }
        }
    }
}

/// The answer to a like, repost or follow: 200 with the original tweet (or the followed user)
/// whose `flag` (`liked`, `reposted`, `following`) is `on`.
fn check_toggled(answer: Answer, what: &str, id: u64, flag: &str, on: bool) {
    let body = answer.expect(StatusCode::OK, what);
    assert_eq!(id_of(&body, what), id, "{what}: answered {body}");
    assert_eq!(body[flag], Value::Bool(on), "{what}: {flag} in {body}");
}

/// PUT `on` (as `again` says: once, twice at once, or undone with DELETE `off` and done again),
/// each answer checked with [`check_toggled`].
async fn toggle(
    http: &Http,
    member: &Member,
    on: &str,
    off: &str,
    again: Again,
    id: u64,
    flag: &str,
) {
    let put = || async move {
        let what = format!("{} PUT {on}", member.name);
        check_toggled(
            http.act(member, Method::PUT, on).await,
            &what,
            id,
            flag,
            true,
        );
    };
    match again {
        Again::Once => put().await,
        Again::Twice => {
            join(put(), put()).await;
        }
        Again::Undone => {
            put().await;
            let what = format!("{} DELETE {off}", member.name);
            let answer = http.act(member, Method::DELETE, off).await;
            check_toggled(answer, &what, id, flag, false);
            put().await;
        }
    }
}

/// Performs one action, asserting every answer.
async fn perform(http: &Http, members: &[Member], action: Action) -> Done {
    let mut created = None;
    match &action {
        &Action::Like(user, target, again) => {
            let on = format!("/v1/tweets/{}/like", target.id);
            let off = format!("/v1/tweets/{}/like", target.original);
            let member = &members[user];
            toggle(http, member, &on, &off, again, target.original, "liked").await;
        }
        &Action::Repost(user, target, again) => {
            let on = format!("/v1/tweets/{}/repost", target.id);
            let off = format!("/v1/tweets/{}/repost", target.original);
            let member = &members[user];
            toggle(http, member, &on, &off, again, target.original, "reposted").await;
        }
        &Action::Follow(user, whom, again) => {
            let path = format!("/v1/me/following/{}", members[whom].name);
            let (member, id) = (&members[user], members[whom].id);
            toggle(http, member, &path, &path, again, id, "following").await;
        }
        Action::Post {
            user,
            parent,
            mentions,
            text,
            key,
        } => {
            let member = &members[*user];
            let what = format!("{} posts {text:?}", member.name);
            let tweet = http
                .post_tweet(member, key, text, parent.map(|p| p.id))
                .await;
            // A reply to a repost answers the original.
            let parent_id = parent.map(|p| p.original.to_string());
            assert_eq!(
                tweet["in_reply_to_id"].as_str(),
                parent_id.as_deref(),
                "{what}: in_reply_to_id of {tweet}"
            );
            let want: BTreeMap<u64, &str> = mentions
                .iter()
                .map(|&m| (members[m].id, members[m].name.as_str()))
                .collect();
            let got: BTreeMap<u64, &str> = tweet["mentions"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: no mentions in {tweet}"))
                .iter()
                .map(|m| (id_of(m, &what), m["username"].as_str().unwrap_or("?")))
                .collect();
            assert_eq!(got, want, "{what}: mentions (as registered) of {tweet}");
            created = Some(id_of(&tweet, &what));
        }
    }
    Done { action, created }
}

/// A name as a mention may spell it: as registered, lowercase or uppercase.
fn spelled(rng: &mut StdRng, name: &str) -> String {
    match rng.random_range(0..3) {
        0 => name.to_owned(),
        1 => name.to_lowercase(),
        _ => name.to_uppercase(),
    }
}

/// A post's mentions (0 to 3 members, the poster and repeats allowed) and its text, which names
/// them (in any case) and sometimes someone who does not exist.
fn mentioning(
    rng: &mut StdRng,
    members: &[Member],
    lead: &str,
    least: usize,
) -> (Vec<usize>, String) {
    let mentions: Vec<usize> = (0..rng.random_range(least..=3))
        .map(|_| rng.random_range(0..members.len()))
        .collect();
    let mut text = lead.to_owned();
    for &m in &mentions {
        text.push_str(&format!(" @{}", spelled(rng, &members[m].name)));
    }
    if rng.random_bool(0.3) {
        text.push_str(" and @nobody_here");
    }
    (mentions, text)
}

fn again(rng: &mut StdRng, twice: f64, undone: f64) -> Again {
    let r: f64 = rng.random();
    if r < twice {
        Again::Twice
    } else if r < twice + undone {
        Again::Undone
    } else {
        Again::Once
    }
}

/// The burst's actions, shuffled: of every (member, target) pair, 45 % liked and 15 % reposted
/// (a few of them twice at once or done-undone-done), 8 % of the follows not made yet, and 60
/// replies and 30 tweets with mentions. Nobody undoes a repost they made before the burst (that
/// would delete a target).
fn plan(
    rng: &mut StdRng,
    members: &[Member],
    targets: &[Target],
    follows: &BTreeSet<(usize, usize)>,
    setup_reposts: &BTreeSet<(usize, u64)>,
) -> Vec<Action> {
    let mut pool = Vec::new();
    for user in 0..members.len() {
        for &target in targets {
            let r: f64 = rng.random();
            if r < 0.45 {
                pool.push(Action::Like(user, target, again(rng, 0.05, 0.05)));
            } else if r < 0.60 {
                let mut how = again(rng, 0.04, 0.04);
                if how == Again::Undone && setup_reposts.contains(&(user, target.original)) {
                    how = Again::Once;
                }
                pool.push(Action::Repost(user, target, how));
            }
        }
        for whom in 0..members.len() {
            if whom != user && !follows.contains(&(user, whom)) && rng.random_bool(0.08) {
                pool.push(Action::Follow(user, whom, again(rng, 0.1, 0.1)));
            }
        }
    }
    for n in 0..90 {
        let user = rng.random_range(0..members.len());
        let (parent, lead, least) = if n < 60 {
            (Some(*targets.choose(rng).expect("targets")), "reply", 0)
        } else {
            (None, "hello", 1)
        };
        let (mentions, text) = mentioning(rng, members, &format!("{lead} {n}"), least);
        pool.push(Action::Post {
            user,
            parent,
            mentions,
            text,
            key: format!("burst-{n}"),
        });
    }
    pool.shuffle(rng);
    pool
}

/// The burst running: its actions performed [`IN_FLIGHT`] at a time until stopped or done.
struct Burst {
    stop: Arc<AtomicBool>,
    performed: Arc<AtomicUsize>,
    task: JoinHandle<Vec<Done>>,
}

impl Burst {
    fn start(http: &Http, members: &Arc<Vec<Member>>, pool: Vec<Action>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let performed = Arc::new(AtomicUsize::new(0));
        let task = {
            let (stop, performed) = (stop.clone(), performed.clone());
            let (http, members) = (http.clone(), members.clone());
            tokio::spawn(async move {
                futures_util::stream::iter(pool)
                    // Checked as each action is taken: once stopped, none starts.
                    .take_while(|_| std::future::ready(!stop.load(Ordering::Relaxed)))
                    .map(|action| {
                        let (http, members) = (http.clone(), members.clone());
                        async move { perform(&http, &members, action).await }
                    })
                    .buffer_unordered(IN_FLIGHT)
                    .inspect(|_| {
                        performed.fetch_add(1, Ordering::Relaxed);
                    })
                    .collect()
                    .await
            })
        };
        Self {
            stop,
            performed,
            task,
        }
    }

    fn performed(&self) -> usize {
        self.performed.load(Ordering::Relaxed)
    }

    /// Every action done, or one answered wrong (then [`Self::stop`] fails the test).
    fn finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Polls until `more` actions beyond those done now are done, or the burst is over.
    async fn wait_for(&self, more: usize) {
        let target = self.performed() + more;
        poll_every(Duration::from_millis(5), SLOW_DEADLINE, || async move {
            self.finished() || self.performed() >= target
        })
        .await;
    }

    /// Starts no more actions; returns those performed, once the ones in flight are done.
    async fn stop(self) -> Vec<Done> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the burst (an answer was wrong)")
    }
}

/// Thirty users, who follow each other a little and have five tweets each and a few reposts,
/// like, repost, reply, mention and follow in a burst (about 3,000 actions, 16 at a time, some
/// of them sent twice at once or done, undone and done again). Meanwhile one of the two workers
/// is SIGKILLed [`KILLS`] times while it holds entries, a random stretch of the burst apart,
/// and started again (under its old name in odd rounds, resuming what it held; under a new
/// one in even rounds, its entries reclaimed by a live worker). Once the fan-out is drained,
/// every user's notifications are exactly one per (type, actor, tweet) of what was done (none
/// for one's own actions, none twice, none missing, and the like and repost ones on the
/// original), every tweet's like, repost and reply counts are what was done to it, and nothing
/// was dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_workers_in_a_burst_of_likes_and_reposts_notifies_exactly_once() {
    let _slot = heavy_slot().await;
    let mut rng = seeded_rng("social_burst_kills");
    let mut chirp = Deployment::start(TestRedis::start(), &["w0", "w1"]).await;
    let http = Http::of(&chirp.api);
    let names: Vec<String> = (0..USERS).map(|i| format!("Soc{i:02}")).collect();
    let members = Arc::new(register_members(&chirp.api, &names).await);
    let mut model = Model::default();

    // Before the burst: follows, tweets and a few reposts (one of them of one's own tweet).
    let mut follows = BTreeSet::new();
    for user in 0..USERS {
        let others: Vec<usize> = (0..USERS).filter(|&o| o != user).collect();
        for &whom in others.choose_multiple(&mut rng, FOLLOWS_EACH) {
            chirp.api.follow(&members[user].token, &names[whom]).await;
            follows.insert((user, whom));
            model.follow(&members, user, whom);
        }
    }
    let mut targets = Vec::new();
    for (author, member) in members.iter().enumerate() {
        for k in 0..TWEETS_EACH {
            let text = format!("tweet {k} of {}", member.name);
            let tweet = http
                .post_tweet(member, &format!("setup-{k}"), &text, None)
                .await;
            let id = id_of(&tweet, &text);
            targets.push(Target {
                id,
                original: id,
                author,
            });
        }
    }
    let mut setup_reposts = BTreeSet::new();
    for n in 0..SETUP_REPOSTS {
        let original = *targets[..USERS * TWEETS_EACH]
            .choose(&mut rng)
            .expect("tweets");
        let user = match n {
            0 => original.author,
            _ => (original.author + rng.random_range(1..USERS)) % USERS,
        };
        if !setup_reposts.insert((user, original.original)) {
            continue;
        }
        let member = &members[user];
        let what = format!("{} reposts {}", member.name, original.id);
        let path = format!("/v1/tweets/{}/repost", original.id);
        let answer = http.act(member, Method::PUT, &path).await;
        check_toggled(answer, &what, original.original, "reposted", true);
        model.repost(&members, user, original);
        // The repost is in the reposter's tweets at once.
        let path = format!("/v1/users/{}/tweets", member.name);
        let repost = http
            .walk(&path, None, 100)
            .await
            .into_iter()
            .find(|t| t["repost_of"]["id"].as_str() == Some(original.id.to_string().as_str()))
            .unwrap_or_else(|| panic!("{what}: the repost is not in {path}"));
        targets.push(Target {
            id: id_of(&repost, &what),
            ..original
        });
    }

    let pool = plan(&mut rng, &members, &targets, &follows, &setup_reposts);
    let planned = pool.len();
    let burst = Burst::start(&http, &members, pool);
    let mut kills_landed = 0;
    for round in 1..=KILLS {
        burst.wait_for(rng.random_range(50..=250)).await;
        let slot = rng.random_range(0..chirp.workers.len());
        let victim = chirp.workers[slot].consumer.clone();
        let held = wait_until_holding(&chirp.redis_url(), &victim, Duration::from_secs(3)).await;
        let during = !burst.finished();
        let status = chirp.workers[slot].process.kill();
        kills_landed += usize::from(held > 0 && during);
        let successor = match round % 2 {
            1 => victim.clone(),
            _ => format!("w{slot}r{round}"),
        };
        chirp.workers[slot] = chirp.start_worker(&successor).await;
        println!(
            "round {round}: killed {victim} ({status}) holding {held} entries, {} of {planned} \
             actions done{}; restarted as {successor}",
            burst.performed(),
            if during { "" } else { " (the burst was over)" }
        );
    }
    let done = burst.stop().await;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for d in &done {
        let kind = match &d.action {
            Action::Like(_, _, how) => format!("like {how:?}"),
            Action::Repost(_, _, how) => format!("repost {how:?}"),
            Action::Follow(_, _, how) => format!("follow {how:?}"),
            Action::Post { parent: None, .. } => "post".to_owned(),
            Action::Post { .. } => "reply".to_owned(),
        };
        *kinds.entry(kind).or_default() += 1;
        model.record(&members, d);
    }
    println!(
        "burst: {} of {planned} actions performed {kinds:?}; {} requests retried",
        done.len(),
        take_retried()
    );

    chirp.wait_drained().await;
    let dead = dead_letters_at(&chirp.redis_url())
        .await
        .expect("XRANGE dead letters");
    if !dead.is_empty() {
        // Failed at the end, after the checks below have said what they lost.
        println!("dead letters: {}", describe_dead(&dead));
        // Which of the burst's posts they are.
        for d in &dead {
            let tweet = d.get("tweet").and_then(|t| t.parse::<u64>().ok());
            if let Some(Done {
                action: Action::Post { user, parent, .. },
                ..
            }) = done
                .iter()
                .find(|d| d.created.is_some() && d.created == tweet)
            {
                let to = parent.map_or("nobody".to_owned(), |p| members[p.author].name.clone());
                println!(
                    "  dead-lettered: tweet {tweet:?} by {}, a reply to {to}",
                    members[*user].name
                );
            }
        }
    }

    // Counts: those of each original (a repost shows its original's), and zero on the burst's
    // own tweets.
    let mut wrong = Vec::new();
    let created = done.iter().filter_map(|d| d.created).map(|id| (id, id));
    let tweets: Vec<(u64, u64)> = targets
        .iter()
        .map(|t| (t.id, t.original))
        .chain(created)
        .collect();
    for &(id, original) in &tweets {
        let what = format!("GET /v1/tweets/{id}");
        let tweet = http
            .get(&format!("/v1/tweets/{id}"), None)
            .await
            .expect(StatusCode::OK, &what);
        let want = [
            model.likers.get(&original).map_or(0, BTreeSet::len),
            model.reposters.get(&original).map_or(0, BTreeSet::len),
            model.replies.get(&original).copied().unwrap_or(0),
        ];
        let got = ["like_count", "repost_count", "reply_count"].map(|c| tweet[c].as_u64());
        if got != want.map(|n| Some(n as u64)) {
            wrong.push(format!(
                "tweet {id} (of {original}): like, repost, reply counts {got:?}, expected {want:?}"
            ));
        }
    }
    if !wrong.is_empty() {
        // Shown before the notifications are checked, which may fail first.
        println!("{} tweets have wrong counts", wrong.len());
    }
    assert_notifications_exact(&http, &members, &model.notices).await;
    assert!(
        wrong.is_empty(),
        "{} of {} tweets have wrong counts:\n{}",
        wrong.len(),
        tweets.len(),
        wrong.join("\n")
    );
    println!("counts of {} tweets exact", tweets.len());
    assert!(dead.is_empty(), "dead letters: {}", describe_dead(&dead));
    assert!(
        kills_landed > 0,
        "no kill landed in the burst while a worker held entries: the scenario proved nothing"
    );
}

/// Reposters of this many, and followers of theirs.
const REPOSTERS: usize = 8;
const FOLLOWERS: usize = 12;
/// Rounds of post, then reposts racing the delete.
const RACES: usize = 40;

/// How a round's reposts meet the delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Race {
    /// The reposts and the delete sent at once, in a random order.
    Together,
    /// The delete sent as soon as the first repost is answered, while the others are in flight.
    Amid,
    /// The delete sent as soon as every repost is answered (their fan-outs still under way).
    DeleteNext,
    /// The reposts answered, then found in the reposters' tweets (their ids known), then the
    /// delete.
    Observed,
}

/// One round: the original, how it raced, how many reposts were answered 200 and 404, the
/// repost ids seen before the delete, and every tweet id handed out in the round after the
/// original's (every repost made is one of them).
struct Round {
    original: u64,
    race: Race,
    reposted: usize,
    refused: usize,
    seen: Vec<u64>,
    handed_out: std::ops::RangeInclusive<u64>,
}

/// A repost's answer: 200 with the original, `reposted`; or 404 not_found once it is deleted.
/// Returns whether it was a 200.
fn check_repost(answer: Answer, what: &str, original: u64) -> bool {
    match answer.status {
        StatusCode::OK => {
            check_toggled(answer, what, original, "reposted", true);
            true
        }
        StatusCode::NOT_FOUND => {
            assert_eq!(answer.body["code"], "not_found", "{what}: {}", answer.body);
            false
        }
        other => panic!("{what}: answered {other} {}", answer.body),
    }
}

/// The ids of `doomed` in a list (the entries themselves, or the originals they repost),
/// each with what it is.
fn doomed_in(items: &[Value], doomed: &BTreeMap<u64, String>) -> Vec<String> {
    let ids = items
        .iter()
        .flat_map(|t| [&t["id"], &t["repost_of"]["id"]])
        .filter_map(|id| id.as_str()?.parse().ok());
    described(ids, doomed)
}

/// Those of `ids` that are `doomed`, each as "<id> (<what it is>)".
fn described(ids: impl IntoIterator<Item = u64>, doomed: &BTreeMap<u64, String>) -> Vec<String> {
    ids.into_iter()
        .filter_map(|id| Some(format!("{id} ({})", doomed.get(&id)?)))
        .collect()
}

/// An author whose eight reposters are followed by twelve followers (a third of whom follow
/// the author too) posts a tweet, then its reposts race its delete, [`RACES`] rounds (see
/// [`Race`]): all sent at once, the delete sent when the first repost is answered, right after
/// the last, or after the reposts were seen in the reposters' tweets. A control tweet reposted
/// by everyone (and never deleted) shows that the reads below see reposts, and that the homes
/// read in Redis are those the API reads. Once the fan-out is drained, no trace of a deleted
/// tweet is left: `GET` of each original and of every tweet id handed out in its round (which
/// covers every repost answered 200) answers 404; no home and no user timeline (in Redis and
/// through the API) and not the global timeline holds any of them or a repost of them; nothing
/// was dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repost_racing_its_originals_delete_leaves_no_orphan() {
    let _slot = heavy_slot().await;
    let mut rng = seeded_rng("repost_racing_delete");
    let chirp = Deployment::start(TestRedis::start(), &["w0", "w1"]).await;
    let http = Http::of(&chirp.api);
    let author = register_members(&chirp.api, &["origin".to_owned()])
        .await
        .remove(0);
    let names: Vec<String> = (0..REPOSTERS).map(|i| format!("rp{i}")).collect();
    let reposters = register_members(&chirp.api, &names).await;
    let names: Vec<String> = (0..FOLLOWERS).map(|i| format!("fw{i}")).collect();
    let followers = register_members(&chirp.api, &names).await;

    for r in &reposters {
        let others: Vec<&Member> = reposters.iter().filter(|o| o.id != r.id).collect();
        for o in others.choose_multiple(&mut rng, 2) {
            chirp.api.follow(&r.token, &o.name).await;
        }
    }
    let mut follows_author = BTreeSet::new();
    for (i, f) in followers.iter().enumerate() {
        let n = rng.random_range(2..=4);
        for r in reposters.choose_multiple(&mut rng, n) {
            chirp.api.follow(&f.token, &r.name).await;
        }
        if i % 3 == 0 {
            chirp.api.follow(&f.token, &author.name).await;
            follows_author.insert(f.id);
        }
    }

    let control = id_of(
        &http.post_tweet(&author, "control", "control", None).await,
        "control",
    );
    for r in &reposters {
        let what = format!("{} reposts the control {control}", r.name);
        let answer = http
            .act(r, Method::PUT, &format!("/v1/tweets/{control}/repost"))
            .await;
        check_toggled(answer, &what, control, "reposted", true);
    }

    let mut rounds = Vec::new();
    for k in 0..RACES {
        let text = format!("race {k}");
        let original = id_of(
            &http
                .post_tweet(&author, &format!("race-{k}"), &text, None)
                .await,
            &text,
        );
        let race = match rng.random_range(0..20) {
            0..8 => Race::Together,
            8..14 => Race::Amid,
            14..17 => Race::DeleteNext,
            _ => Race::Observed,
        };
        let mut order: Vec<&Member> = reposters.iter().collect();
        order.shuffle(&mut rng);
        let path = format!("/v1/tweets/{original}/repost");
        let reposts = || join_all(order.iter().map(|r| http.act(r, Method::PUT, &path)));
        let tweet_path = format!("/v1/tweets/{original}");
        let delete = http.act(&author, Method::DELETE, &tweet_path);
        let mut seen = Vec::new();
        let (answers, deleted) = match race {
            Race::Together if rng.random_bool(0.5) => join(reposts(), delete).await,
            Race::Together => {
                let (deleted, answers) = join(delete, reposts()).await;
                (answers, deleted)
            }
            Race::Amid => {
                let (http, path) = (&http, &path);
                let mut in_flight: FuturesUnordered<_> = order
                    .iter()
                    .enumerate()
                    .map(|(i, r)| async move { (i, http.act(r, Method::PUT, path).await) })
                    .collect();
                let first = in_flight.next().await.expect("a repost");
                let (deleted, mut answers) = join(delete, in_flight.collect::<Vec<_>>()).await;
                answers.push(first);
                answers.sort_by_key(|&(i, _)| i);
                (answers.into_iter().map(|(_, a)| a).collect(), deleted)
            }
            Race::DeleteNext => (reposts().await, delete.await),
            Race::Observed => {
                let answers = reposts().await;
                for (r, answer) in order.iter().zip(&answers) {
                    if answer.status != StatusCode::OK {
                        continue;
                    }
                    let path = format!("/v1/users/{}/tweets?limit=5", r.name);
                    let tweets = http.get(&path, None).await.expect(StatusCode::OK, &path);
                    let repost = tweets["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|t| {
                            t["repost_of"]["id"].as_str() == Some(original.to_string().as_str())
                        })
                        .unwrap_or_else(|| {
                            panic!(
                                "{}'s repost of {original} is not in {path}: {tweets}",
                                r.name
                            )
                        });
                    seen.push(id_of(repost, &path));
                }
                (answers, delete.await)
            }
        };
        deleted.expect(StatusCode::NO_CONTENT, &format!("DELETE {original}"));
        let mut reposted = 0;
        for (r, answer) in order.iter().zip(answers) {
            let what = format!("round {k} ({race:?}): {} PUT {path}", r.name);
            reposted += usize::from(check_repost(answer, &what, original));
        }
        let last = last_tweet_id(&chirp.redis_url()).await;
        rounds.push(Round {
            original,
            race,
            reposted,
            refused: REPOSTERS - reposted,
            seen,
            handed_out: original + 1..=last,
        });
    }
    let mut by_race: BTreeMap<Race, (usize, usize, usize)> = BTreeMap::new();
    for round in &rounds {
        let entry = by_race.entry(round.race).or_default();
        entry.0 += 1;
        entry.1 += round.reposted;
        entry.2 += round.refused;
    }
    println!(
        "{RACES} rounds (rounds, reposts answered 200, answered 404): {by_race:?}; {} requests \
         retried",
        take_retried()
    );

    chirp.wait_drained().await;
    let dead = dead_letters_at(&chirp.redis_url())
        .await
        .expect("XRANGE dead letters");
    if !dead.is_empty() {
        // Failed at the end, after the checks below have said what they lost.
        println!("dead letters: {}", describe_dead(&dead));
    }

    // Every id of a round answers 404: the original, each repost seen, every id handed out.
    let mut wrong = Vec::new();
    let mut doomed = BTreeMap::new();
    for (k, round) in rounds.iter().enumerate() {
        for id in &round.seen {
            if !round.handed_out.contains(id) {
                wrong.push(format!(
                    "round {k}: repost {id} seen, not among the ids handed out in the round \
                     {:?}: the check below would miss reposts",
                    round.handed_out
                ));
            }
        }
        let race = format!("round {k}, {:?}", round.race);
        doomed.extend(
            round
                .handed_out
                .clone()
                .map(|id| (id, format!("{race}: an id after the original"))),
        );
        for &id in &round.seen {
            doomed.insert(id, format!("{race}: a repost seen before the delete"));
        }
        doomed.insert(round.original, format!("{race}: the original"));
    }
    for &id in doomed.keys() {
        let answer = http.get(&format!("/v1/tweets/{id}"), None).await;
        if answer.status != StatusCode::NOT_FOUND {
            wrong.push(format!(
                "GET /v1/tweets/{id}: {} {}",
                answer.status, answer.body
            ));
        }
    }

    // No timeline holds any of them, as stored and as read.
    let everyone: Vec<&Member> = std::iter::once(&author)
        .chain(&reposters)
        .chain(&followers)
        .collect();
    let mut stored = Vec::new();
    for m in &everyone {
        stored.push((format!("{}'s home", m.name), keys::home(UserId::new(m.id))));
        stored.push((
            format!("{}'s tweets", m.name),
            keys::user_tweets(UserId::new(m.id)),
        ));
    }
    let sets = zset_members(
        &chirp.redis_url(),
        &stored.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>(),
    )
    .await;
    for ((what, key), ids) in stored.iter().zip(&sets) {
        let orphans = described(ids.iter().copied(), &doomed);
        if !orphans.is_empty() {
            wrong.push(format!("{what} in Redis ({key}) holds {orphans:?}"));
        }
    }
    let mut read_reposts = 0;
    for (i, m) in everyone.iter().enumerate() {
        let home = http.walk("/v1/timelines/home", Some(m), 100).await;
        let orphans = doomed_in(&home, &doomed);
        if !orphans.is_empty() {
            wrong.push(format!(
                "{}'s home through the API shows {orphans:?}",
                m.name
            ));
        }
        let tweets = http
            .walk(&format!("/v1/users/{}/tweets", m.name), None, 100)
            .await;
        // What the API shows is what Redis holds: the look at Redis above was at the
        // timelines that are read.
        for (what, items, stored) in [
            ("home", &home, &sets[2 * i]),
            ("tweets", &tweets, &sets[2 * i + 1]),
        ] {
            let unstored: Vec<u64> = items
                .iter()
                .map(|t| id_of(t, what))
                .filter(|id| !stored.contains(id))
                .collect();
            if !unstored.is_empty() {
                wrong.push(format!(
                    "{}'s {what} through the API shows {unstored:?}, which Redis does not hold",
                    m.name
                ));
            }
        }
        let orphans = doomed_in(&tweets, &doomed);
        if !orphans.is_empty() {
            wrong.push(format!(
                "{}'s tweets through the API show {orphans:?}",
                m.name
            ));
        }
        // The control: every reposter's repost of it in their tweets; in a follower's home the
        // control itself (following the author) or one repost of it.
        let control_id = control.to_string();
        let reposts_of_control = |items: &[Value]| {
            items
                .iter()
                .filter(|t| t["repost_of"]["id"].as_str() == Some(control_id.as_str()))
                .count()
        };
        if reposters.iter().any(|r| r.id == m.id) && reposts_of_control(&tweets) != 1 {
            wrong.push(format!(
                "{}'s tweets hold {} reposts of the control {control}, not 1",
                m.name,
                reposts_of_control(&tweets)
            ));
        }
        if followers.iter().any(|f| f.id == m.id) {
            let shows = if follows_author.contains(&m.id) {
                home.iter()
                    .any(|t| t["id"].as_str() == Some(control_id.as_str()))
            } else {
                reposts_of_control(&home) > 0
            };
            if !shows {
                wrong.push(format!(
                    "{}'s home does not show the control {control} (or a repost of it): the \
                     reads see no reposts",
                    m.name
                ));
            }
        }
        read_reposts += reposts_of_control(&home);
    }
    let global = http.walk("/v1/timelines/global", None, 100).await;
    let orphans = doomed_in(&global, &doomed);
    if !orphans.is_empty() {
        wrong.push(format!("the global timeline shows {orphans:?}"));
    }
    assert!(
        wrong.is_empty(),
        "{} things are wrong after reposts raced deletes:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(dead.is_empty(), "dead letters: {}", describe_dead(&dead));
    let reposted: usize = rounds.iter().map(|r| r.reposted).sum();
    let seen: usize = rounds.iter().map(|r| r.seen.len()).sum();
    println!(
        "no orphan: {} ids of {RACES} deleted tweets and their rounds answer 404 and are in no \
         timeline ({reposted} reposts answered 200, {seen} seen before the delete; {read_reposts} \
         reposts of the control read in homes)",
        doomed.len()
    );
    assert!(
        reposted > 0,
        "no repost was ever made before its original's delete: the scenario proved nothing"
    );
}
