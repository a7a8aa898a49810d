//! Password hashing with Argon2id (the crate's defaults: m=19 MiB, t=2, p=1,
//! the OWASP minimum), stored as PHC strings (`$argon2id$v=19$m=...`).
//!
//! # Why a pool of its own
//! One Argon2 computation fills 19 MiB and keeps a core busy for tens of
//! milliseconds. On tokio's blocking pool (up to 512 threads) a login flood
//! ran hundreds at once, each allocating its own 19 MiB, and the allocator
//! kept what they freed: 300 concurrent logins took confab to 9.5 GB. Here a
//! fixed number of dedicated threads (`auth.hash_workers`) do all hashing,
//! each with one memory buffer it reuses for every hash, so hashing holds
//! about workers × 19 MiB and at most that many cores, whatever the load.
//!
//! # Queueing
//! Jobs wait for a worker in two lanes of at most `auth.hash_queue` each:
//! checks of an existing account's password, which workers take first, and
//! everything else (registrations, and the dummy checks that make a login
//! with an unknown username take as long as a wrong password). A job that
//! finds its lane full is refused at once with 503 `unavailable` and
//! `Retry-After: 1`, having cost no hash; so a flood of logins with made-up
//! usernames fills its own lane while real users still get theirs checked.
//! (Which lane a login waits in depends on whether its username exists,
//! which registration answers anyway.) A job whose request has gone away
//! by the time a worker is free is skipped.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use crate::error::{ApiError, Code};

/// The most memory a stored hash may ask for, in 1 KiB blocks (256 MiB):
/// a hash asking for more (a corrupt record) matches nothing rather than
/// growing a worker's buffer without bound.
const MAX_BLOCKS: usize = 256 * 1024;

/// The salt of the dummy checks: any fixed value does, as their result is
/// thrown away; only their cost matters.
const DUMMY_SALT: &[u8] = b"confab-dummy-salt";

/// The password hashing pool: a fixed set of worker threads and their two
/// queues. Dropping it stops the workers once they finish their current job.
pub struct Hasher {
    /// Shared with the workers.
    queue: Arc<Queue>,
    /// How many worker threads run.
    workers: usize,
}

/// The jobs waiting for a worker.
struct Queue {
    /// Both lanes, and whether the pool is shutting down.
    lanes: Mutex<Lanes>,
    /// Signalled when a job arrives or the pool shuts down.
    ready: Condvar,
    /// Jobs that may wait in each lane; more are refused.
    capacity: usize,
}

/// The two lanes of the queue.
#[derive(Default)]
struct Lanes {
    /// Checks of an existing account's password: taken first.
    account: VecDeque<Job>,
    /// Registrations and the dummy checks of unknown usernames.
    other: VecDeque<Job>,
    /// Set when the [`Hasher`] is dropped: workers exit.
    closed: bool,
}

impl Lanes {
    fn lane(&mut self, lane: Lane) -> &mut VecDeque<Job> {
        match lane {
            Lane::Account => &mut self.account,
            Lane::Other => &mut self.other,
        }
    }
}

/// Which lane a job waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// An existing account's password check.
    Account,
    /// Anything else.
    Other,
}

/// One piece of work for a worker, with where its answer goes.
enum Job {
    /// Hash a new password (registration).
    Hash {
        /// The password.
        password: String,
        /// The PHC string, or why hashing failed.
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// Check a password against a stored PHC string, or run a dummy check
    /// when there is none (unknown username).
    Verify {
        /// The password.
        password: String,
        /// The stored hash; `None` for an unknown username.
        hash: Option<String>,
        /// Whether the password matches.
        reply: oneshot::Sender<bool>,
    },
}

impl Job {
    /// Whether nobody waits for the answer any more (the client went away).
    fn abandoned(&self) -> bool {
        match self {
            Job::Hash { reply, .. } => reply.is_closed(),
            Job::Verify { reply, .. } => reply.is_closed(),
        }
    }

    /// Does the work in `memory` and sends the answer.
    fn run(self, memory: &mut Memory) {
        match self {
            Job::Hash { password, reply } => {
                let _ = reply.send(hash_with(memory, password.as_bytes()));
            }
            Job::Verify {
                password,
                hash,
                reply,
            } => {
                let matches = match hash {
                    Some(hash) => verify_with(memory, password.as_bytes(), &hash),
                    None => {
                        dummy_with(memory, password.as_bytes());
                        false
                    }
                };
                let _ = reply.send(matches);
            }
        }
    }
}

/// A worker's Argon2 memory: allocated at its first job and reused by every
/// later one, so hashing never allocates once each worker has worked.
#[derive(Default)]
struct Memory(Vec<Block>);

impl Memory {
    /// The first `count` blocks, growing the buffer when it is smaller (only
    /// a stored hash with a larger memory cost than the default needs that;
    /// at most [`MAX_BLOCKS`]).
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            self.0.resize(count, Block::new());
        }
        &mut self.0[..count]
    }
}

/// Argon2id, version 19, the crate's default cost: what every new hash uses.
fn default_argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Hashes `password` with a fresh random salt into a PHC string, in `memory`.
fn hash_with(memory: &mut Memory, password: &[u8]) -> Result<String, String> {
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for a salt: {e}"))?;
    let params = Params::DEFAULT;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    default_argon2()
        .hash_password_into_with_memory(
            password,
            &salt,
            &mut output,
            memory.blocks(params.block_count()),
        )
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(&salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(&output).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored`: recomputes the hash
/// with the string's algorithm, version, parameters, salt and output length
/// in `memory`, and compares in constant time (`Output`'s `==`). A string
/// that does not parse matches nothing.
fn verify_with(memory: &mut Memory, password: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::new(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    // Carries the output length of the stored hash too.
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_BLOCKS {
        return false;
    }
    let mut output = [0u8; Output::MAX_LENGTH];
    let Some(output) = output.get_mut(..expected.len()) else {
        return false;
    };
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, output, memory.blocks(blocks))
        .is_ok()
        && Output::new(output).is_ok_and(|computed| computed == *expected)
}

/// The work of checking a password against a default-cost hash, for an
/// unknown username: the same time as a wrong password, nothing learned.
fn dummy_with(memory: &mut Memory, password: &[u8]) {
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let blocks = memory.blocks(Params::DEFAULT.block_count());
    let _ =
        default_argon2().hash_password_into_with_memory(password, DUMMY_SALT, &mut output, blocks);
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Lanes> {
        // A worker never panics while holding the lock; if one did, the
        // lanes are still consistent (each change is one push or pop).
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `job` in `lane`, or hands it back when the lane is full.
    fn push(&self, lane: Lane, job: Job) -> Result<(), Job> {
        let mut lanes = self.lock();
        let queue = lanes.lane(lane);
        if queue.len() >= self.capacity {
            return Err(job);
        }
        queue.push_back(job);
        drop(lanes);
        self.ready.notify_one();
        Ok(())
    }

    /// Whether `lane` is full right now.
    fn full(&self, lane: Lane) -> bool {
        self.lock().lane(lane).len() >= self.capacity
    }

    /// The next job for a worker, account checks first; `None` once the
    /// pool is shutting down.
    fn next(&self) -> Option<Job> {
        let mut lanes = self.lock();
        loop {
            if lanes.closed {
                return None;
            }
            if let Some(job) = lanes
                .account
                .pop_front()
                .or_else(|| lanes.other.pop_front())
            {
                return Some(job);
            }
            lanes = self.ready.wait(lanes).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// What each worker thread runs until the pool shuts down.
    fn work(&self) {
        let mut memory = Memory::default();
        while let Some(job) = self.next() {
            if !job.abandoned() {
                job.run(&mut memory);
            }
        }
    }
}

impl Hasher {
    /// Starts `workers` hashing threads (0: one per core) whose two lanes
    /// each hold at most `queue` waiting jobs (at least one).
    pub fn start(workers: usize, queue: usize) -> anyhow::Result<Self> {
        let workers = match workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let queue = Arc::new(Queue {
            lanes: Mutex::new(Lanes::default()),
            ready: Condvar::new(),
            capacity: queue.max(1),
        });
        for i in 0..workers {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("confab-hash-{i}"))
                .spawn(move || queue.work())
                .context("Failed to start a password hashing thread")?;
        }
        Ok(Self { queue, workers })
    }

    /// How many worker threads hash.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Hashes a new password into a PHC string (`$argon2id$...`). 503
    /// `unavailable` at once when too many hashes wait already.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Lane::Other, Job::Hash { password, reply })?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing a password: {e}")))
    }

    /// Checks a password against a stored hash, or against nothing (taking
    /// about the same time) when the username is unknown. 503 `unavailable`
    /// at once when too many checks wait already.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let lane = Lane::of_check(hash.is_some());
        let (reply, answer) = oneshot::channel();
        self.submit(
            lane,
            Job::Verify {
                password,
                hash,
                reply,
            },
        )?;
        answer.await.map_err(|_| stopped())
    }

    /// The 503 [`Hasher::verify`] would answer right now for a check against
    /// an existing account's hash (`account`) or for an unknown username;
    /// `Ok` when it would queue the check. Lets a caller refuse before doing
    /// work the refusal would waste; `verify` still decides.
    pub fn room_for_check(&self, account: bool) -> Result<(), ApiError> {
        if self.queue.full(Lane::of_check(account)) {
            return Err(refused());
        }
        Ok(())
    }

    fn submit(&self, lane: Lane, job: Job) -> Result<(), ApiError> {
        self.queue.push(lane, job).map_err(|_| refused())
    }
}

impl Lane {
    /// The lane of a password check: against an existing account's hash or
    /// not.
    fn of_check(account: bool) -> Self {
        if account { Lane::Account } else { Lane::Other }
    }
}

/// The answer when a job's lane is full (counted).
fn refused() -> ApiError {
    crate::metrics::inc(&crate::metrics::HASHES_REFUSED);
    ApiError::new(
        Code::Unavailable,
        "too many passwords are being checked right now; retry after Retry-After",
    )
}

/// The answer when the pool stopped before doing a job (shutting down).
fn stopped() -> ApiError {
    ApiError::new(Code::Unavailable, "the server is shutting down; retry")
}

impl Drop for Hasher {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHasher;

    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = Hasher::start(1, 4).unwrap();

        let h = hasher.hash("correct horse".into()).await.unwrap();

        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(
            hasher
                .verify("correct horse".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!hasher.verify("anything".into(), None).await.unwrap());
        assert!(
            !hasher
                .verify("anything".into(), Some("not a hash".into()))
                .await
                .unwrap()
        );
        let greedy = "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$\
                      AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(
            !hasher
                .verify("anything".into(), Some(greedy.into()))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_still_verify() {
        let hasher = Hasher::start(1, 4).unwrap();
        let old = Argon2::default()
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        // Other parameters and a shorter output, as an older setting made.
        let params = Params::new(8 * 1024, 3, 1, Some(24)).unwrap();
        let small = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();

        for stored in [old, small] {
            assert!(
                hasher
                    .verify("correct horse".into(), Some(stored.clone()))
                    .await
                    .unwrap(),
                "{stored}"
            );
            assert!(
                !hasher
                    .verify("correct horsf".into(), Some(stored.clone()))
                    .await
                    .unwrap(),
                "{stored}"
            );
        }
    }

    #[tokio::test]
    async fn hashes_made_here_verify_with_the_argon2_crate() {
        use argon2::PasswordVerifier;
        let hasher = Hasher::start(1, 4).unwrap();

        let h = hasher.hash("correct horse".into()).await.unwrap();

        let parsed = PasswordHash::new(&h).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn jobs_beyond_the_queue_are_refused_at_once() {
        let hasher = Hasher::start(1, 1).unwrap();

        let answers = futures_util::future::join_all(
            (0..8).map(|i| hasher.verify(format!("password {i}"), None)),
        )
        .await;

        let refused = answers
            .iter()
            .filter(|a| a.as_ref().is_err_and(|e| e.code() == Code::Unavailable))
            .count();
        let checked = answers.iter().filter(|a| a.is_ok()).count();
        assert_eq!(refused + checked, 8);
        assert!((1..=2).contains(&checked), "{checked} checked");
        assert!(hasher.room_for_check(true).is_ok());
    }

    #[tokio::test]
    async fn account_checks_wait_apart_from_the_rest() {
        let hasher = Hasher::start(1, 1).unwrap();
        let stored = hasher.hash("correct horse".into()).await.unwrap();

        // Unknown usernames fill their lane; the account check still gets in.
        let (unknown, account) = tokio::join!(
            futures_util::future::join_all(
                (0..4).map(|i| hasher.verify(format!("password {i}"), None))
            ),
            hasher.verify("correct horse".into(), Some(stored)),
        );

        assert!(account.unwrap());
        assert!(unknown.iter().any(|a| a.is_err()));
    }
}
