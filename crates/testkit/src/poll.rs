//! Waiting for eventual results: a check is polled until it holds or a deadline passes, never
//! slept on. A fixed sleep is either too short on a loaded machine (a flaky test) or too long
//! everywhere else (a slow one); a poll is as fast as the system under test and fails with the
//! name of what never happened.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long an eventual result may take before [`eventually`] fails the test.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The pause between two looks, for [`poll_until`] and the functions built on it.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What a polled check answers: `bool` (done or not yet) or `Option<T>` (the value, once there).
pub trait Ready {
    /// What the poll returns once the check holds.
    type Value;
    /// `Some` once the check holds.
    fn ready(self) -> Option<Self::Value>;
}

impl Ready for bool {
    type Value = ();
    fn ready(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Ready for Option<T> {
    type Value = T;
    fn ready(self) -> Option<T> {
        self
    }
}

/// Polls `check` every `interval` until it holds; `None` if it still does not once `deadline`
/// has passed. The check runs at least once, and once more after the deadline's last pause.
pub async fn poll_every<F, Fut>(
    interval: Duration,
    deadline: Duration,
    mut check: F,
) -> Option<<Fut::Output as Ready>::Value>
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Ready,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await.ready() {
            return Some(value);
        }
        if started.elapsed() >= deadline {
            return None;
        }
        tokio::time::sleep(interval).await;
    }
}

/// [`poll_every`] [`POLL_INTERVAL`].
pub async fn poll_until<F, Fut>(
    deadline: Duration,
    check: F,
) -> Option<<Fut::Output as Ready>::Value>
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Ready,
{
    poll_every(POLL_INTERVAL, deadline, check).await
}

/// Polls `check` until it holds and returns its value; fails the test, naming `what` it waited
/// for, after [`DEADLINE`].
pub async fn eventually<F, Fut>(what: &str, check: F) -> <Fut::Output as Ready>::Value
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Ready,
{
    eventually_within(DEADLINE, what, check).await
}

/// [`eventually`] with a deadline of the caller's choosing, for results that take longer (a
/// backlog of fan-outs to work off, a process to restart).
pub async fn eventually_within<F, Fut>(
    deadline: Duration,
    what: &str,
    check: F,
) -> <Fut::Output as Ready>::Value
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Ready,
{
    match poll_until(deadline, check).await {
        Some(value) => value,
        None => panic!("timed out after {deadline:?} waiting for: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_check_that_comes_true_returns_its_value() {
        let mut looks = 0;
        let value = eventually("the third look", || {
            looks += 1;
            let n = looks;
            async move { (n == 3).then_some(n * 10) }
        })
        .await;
        assert_eq!(value, 30);
    }

    #[tokio::test]
    async fn a_check_that_never_holds_gives_up_at_the_deadline() {
        let started = Instant::now();
        let gave_up = poll_until(Duration::from_millis(100), || async { false }).await;
        assert_eq!(gave_up, None);
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test]
    #[should_panic(expected = "timed out after 50ms waiting for: nothing")]
    async fn eventually_fails_naming_what_it_waited_for() {
        eventually_within(Duration::from_millis(50), "nothing", || async { false }).await;
    }
}
