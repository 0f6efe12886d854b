//! A bounded pool for password hashing: a few dedicated threads, a bounded queue, a deadline.
//!
//! Each argon2id hash or verify takes tens of milliseconds and 19 MiB by design. Run on tokio's
//! blocking pool (up to 512 threads), a burst of logins ran that many at once: the process grew
//! to gigabytes, every thread's malloc arena kept its 19 MiB afterwards, and other clients
//! waited behind the CPU. Here at most `threads` hashes run at once (memory is bounded by
//! `threads` × the argon2 memory cost and stays there: each thread keeps its argon2 memory and
//! reuses it for every hash), at most `queue` wait, and none waits longer than `max_wait`:
//! past either bound the caller gets [`Error::Busy`] (503 with `Retry-After`) at once instead of
//! a slow answer.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::auth::{HashMemory, PasswordHasher};
use crate::error::{Error, Result};
use crate::model::Password;

/// How big the pool is.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    /// Hashes running at once (one thread each).
    pub threads: usize,
    /// Hashes waiting for a thread; one more is refused.
    pub queue: usize,
    /// The longest a hash may wait for a thread; past it, it is refused.
    pub max_wait: Duration,
}

enum Work {
    Hash(Password),
    Verify {
        password: String,
        stored: Option<String>,
    },
}

enum Done {
    Hashed(Result<String>),
    Verified(bool),
    /// Waited past its deadline: refused without being computed.
    Expired,
}

struct Job {
    work: Work,
    deadline: Instant,
    reply: oneshot::Sender<Done>,
}

/// Hashes and verifies passwords on the pool's threads. Cheap to clone.
#[derive(Clone)]
pub struct HashingPool {
    jobs: SyncSender<Job>,
    size: PoolSize,
}

impl HashingPool {
    /// Starts `size.threads` threads that live as long as the process.
    pub fn start(hasher: PasswordHasher, size: PoolSize) -> Self {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(size.queue);
        let queue = Arc::new(Mutex::new(queue));
        let hasher = Arc::new(hasher);
        for n in 0..size.threads.max(1) {
            let (queue, hasher) = (queue.clone(), hasher.clone());
            std::thread::Builder::new()
                .name(format!("chirp-hash-{n}"))
                .spawn(move || serve(&queue, &hasher))
                .expect("a hashing thread starts");
        }
        Self { jobs, size }
    }

    /// The PHC string of `password`'s argon2id hash.
    pub async fn hash(&self, password: Password) -> Result<String> {
        match self.run(Work::Hash(password)).await? {
            Done::Hashed(result) => result,
            _ => Err(Error::Internal("hashing pool answered out of turn".into())),
        }
    }

    /// Whether `password` matches `stored`; with no stored hash, the same work and `false`.
    pub async fn verify(&self, password: &str, stored: Option<String>) -> Result<bool> {
        let work = Work::Verify {
            password: password.to_owned(),
            stored,
        };
        match self.run(work).await? {
            Done::Verified(ok) => Ok(ok),
            _ => Err(Error::Internal("hashing pool answered out of turn".into())),
        }
    }

    async fn run(&self, work: Work) -> Result<Done> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work,
            deadline: Instant::now() + self.size.max_wait,
            reply,
        };
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(Error::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(Error::Internal("hashing threads are gone".into()));
            }
        }
        match answer.await {
            Ok(Done::Expired) => Err(Error::Busy),
            Ok(done) => Ok(done),
            Err(_) => Err(Error::Internal("a hashing thread failed".into())),
        }
    }
}

/// One thread's loop: take the next job, skip it if its caller gave up or its deadline passed,
/// else compute and answer. Ends when every sender is gone.
fn serve(queue: &Mutex<Receiver<Job>>, hasher: &PasswordHasher) {
    // This thread's argon2 memory, allocated at its first hash and kept (see `HashMemory`).
    let mut memory = HashMemory::default();
    loop {
        let job = {
            let Ok(queue) = queue.lock() else { return };
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if job.reply.is_closed() {
            continue; // the request was cancelled (client gone): nothing to compute for
        }
        if Instant::now() > job.deadline {
            let _ = job.reply.send(Done::Expired);
            continue;
        }
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &job.work {
            Work::Hash(password) => Done::Hashed(hasher.hash_in(password, &mut memory)),
            Work::Verify { password, stored } => {
                Done::Verified(hasher.verify_in(password, stored.as_deref(), &mut memory))
            }
        }));
        match done {
            Ok(done) => {
                let _ = job.reply.send(done);
            }
            // Dropping the reply tells the caller; the thread lives on for the next job.
            Err(_) => tracing::error!("password hashing panicked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::HashCost;

    fn pool(threads: usize, queue: usize, max_wait: Duration) -> HashingPool {
        // Costly enough (a few ms) that a burst of calls really finds the threads busy.
        let hasher = PasswordHasher::new(HashCost {
            memory_kib: 8192,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        HashingPool::start(
            hasher,
            PoolSize {
                threads,
                queue,
                max_wait,
            },
        )
    }

    #[tokio::test]
    async fn hashes_verify_through_the_pool() {
        let pool = pool(1, 4, Duration::from_secs(5));
        let stored = pool
            .hash(Password::parse("correct horse").unwrap())
            .await
            .unwrap();
        assert!(
            pool.verify("correct horse", Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!pool.verify("wrong horse!", Some(stored)).await.unwrap());
        assert!(!pool.verify("correct horse", None).await.unwrap());
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_no_more_than_threads_plus_queue_are_taken() {
        // One thread, one queue slot: of many at once, at most 2 can be taken before the first
        // finishes; the rest are refused as Busy without waiting.
        let pool = pool(1, 1, Duration::from_secs(30));
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.verify("some password", None).await })
            })
            .collect();
        let mut busy = 0;
        let mut done = 0;
        for call in calls {
            match call.await.unwrap() {
                Ok(_) => done += 1,
                Err(Error::Busy) => busy += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(done >= 1, "at least the first is computed");
        assert_eq!(done + busy, 20);
        assert!(busy >= 1, "a queue of 1 cannot hold 19 waiting hashes");
    }

    #[tokio::test]
    async fn a_job_past_its_deadline_is_refused_not_computed() {
        let pool = pool(1, 8, Duration::ZERO);
        assert!(matches!(
            pool.verify("some password", None).await,
            Err(Error::Busy)
        ));
    }
}
