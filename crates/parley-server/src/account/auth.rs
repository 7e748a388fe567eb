//! Password hashing (Argon2id, on a few threads of its own so a burst of sign-ins cannot take
//! every core) and the random tokens sessions and API tokens are made of, stored as their SHA-256.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;

pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why a password cannot be set or checked now.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("must be at most 1024 bytes")]
    TooLong,
    /// Every hashing slot stayed taken for as long as a check waits.
    #[error("too many sign-ins are being checked at once; try again in a moment")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// A random token: 32 bytes, URL-safe base64.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Tokens are stored as their SHA-256: they are random, so a slow hash adds nothing.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new password: at least [`MIN_PASSWORD_CHARS`] characters, at most 1024 bytes.
pub fn check_password_strength(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.len() > 1024 {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Hashes a password with Argon2id off the async threads (outside the server, e.g. the CLI;
/// the server goes through [`Passwords`]).
pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| PasswordError::Failed(anyhow::anyhow!("hashing task: {e}")))?
}

fn hash_now(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Failed(anyhow::anyhow!("hashing a password: {e}")))
}

/// Verifies a password; also spends the time of a verification when there is no hash, so an
/// unknown email answers no faster than a wrong password.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || verify_now(&password, hash.as_deref()))
        .await
        .unwrap_or(false)
}

/// What an unknown account's password is checked against, so that it takes as long.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0D3bRD1Ww9pzS0+qEVDGY0f4Q7ZLZdWDj7f9l5wWvq4";

fn verify_now(password: &str, hash: Option<&str>) -> bool {
    let stored = hash.unwrap_or(DUMMY_HASH);
    let ok = PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false);
    ok && hash.is_some()
}

thread_local! {
    /// A hashing thread's Argon2 memory, kept from one check to the next: allocating and
    /// freeing 19 MiB per check leaves the allocator holding several times that per thread.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// As [`verify_now`], in this thread's kept memory.
fn verify_in_place(password: &str, hash: Option<&str>) -> bool {
    let ok = check_in_place(password.as_bytes(), hash.unwrap_or(DUMMY_HASH)).unwrap_or(false);
    ok && hash.is_some()
}

fn check_in_place(password: &[u8], stored: &str) -> Option<bool> {
    let h = PasswordHash::new(stored).ok()?;
    let expected = h.hash?;
    let params = argon2::Params::try_from(&h).ok()?;
    let algorithm = argon2::Algorithm::try_from(h.algorithm).ok()?;
    let version = match h.version {
        Some(v) => argon2::Version::try_from(v).ok()?,
        None => argon2::Version::default(),
    };
    let mut salt = [0u8; 64];
    let salt = h.salt?.decode_b64(&mut salt).ok()?;
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    MEMORY.with(|m| {
        let mut m = m.try_borrow_mut().ok()?;
        if m.len() < blocks {
            m.resize(blocks, argon2::Block::default());
        }
        argon
            .hash_password_into_with_memory(password, salt, &mut out, &mut m[..blocks])
            .ok()
    })?;
    Some(constant_time_eq(&out, expected.as_bytes()))
}

/// How long a password check waits for a free slot before the caller is told to come back.
const HASH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Work for a hashing thread.
type HashJob = Box<dyn FnOnce() + Send>;

/// The server's password hashing: Argon2id takes about 19 MiB and a core for tens of
/// milliseconds, so at most `concurrency` run at once, each on one of that many threads of its
/// own (the memory an allocator keeps after a hash then stays with those few threads, rather
/// than with every thread of the blocking pool); a burst of sign-ins queues here (briefly, then
/// 429) instead of taking every core and the memory with it. The threads end with the last clone.
#[derive(Clone)]
pub struct Passwords {
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    jobs: std::sync::mpsc::Sender<HashJob>,
    runs: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Slots in use now, and the most ever in use at once.
    busy: std::sync::Arc<(
        std::sync::atomic::AtomicUsize,
        std::sync::atomic::AtomicUsize,
    )>,
}

impl Passwords {
    pub fn new(concurrency: usize) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for _ in 0..concurrency.max(1) {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name("parley-hash".into())
                .spawn(move || loop {
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Self {
            jobs,
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            runs: std::sync::Arc::default(),
            busy: std::sync::Arc::default(),
        }
    }

    /// Waits (briefly) for a free slot; the attempt should be counted only once it has one.
    pub async fn slot(&self) -> Result<HashSlot, PasswordError> {
        let busy = || PasswordError::Busy;
        let permit = tokio::time::timeout(HASH_WAIT, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let now = self.busy.0.fetch_add(1, Ordering::Relaxed) + 1;
        self.busy.1.fetch_max(now, Ordering::Relaxed);
        Ok(HashSlot {
            jobs: self.jobs.clone(),
            turn: Some(Turn {
                busy: self.busy.clone(),
                _permit: permit,
            }),
            runs: self.runs.clone(),
        })
    }

    /// The most hashing slots ever in use at once.
    pub fn peak(&self) -> usize {
        self.busy.1.load(Ordering::Relaxed)
    }

    /// Password hashes computed so far (hashes and verifications).
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        self.slot().await?.hash(password).await
    }
}

/// A slot of [`Passwords`], held until its one hash is done.
pub struct HashSlot {
    jobs: std::sync::mpsc::Sender<HashJob>,
    /// Moves into the job: the slot frees when the hash is done, not when the request that
    /// asked goes away (a client that hangs up must not let another hash queue behind it).
    turn: Option<Turn>,
    runs: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A hashing thread's turn: counted free, then released, when dropped.
struct Turn {
    busy: std::sync::Arc<(
        std::sync::atomic::AtomicUsize,
        std::sync::atomic::AtomicUsize,
    )>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.busy.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HashSlot {
    /// Runs `f` on a hashing thread; the slot is free again once it is done. A slot is only
    /// taken while a thread is idle, so the job starts at once.
    async fn run<T: Send + 'static>(mut self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let turn = self.turn.take();
        let job: HashJob = Box::new(move || {
            let _ = tx.send(f());
            drop(turn);
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }

    pub async fn hash(self, password: String) -> Result<String, PasswordError> {
        self.run(move || hash_now(&password))
            .await
            .ok_or_else(|| PasswordError::Failed(anyhow::anyhow!("the hashing thread stopped")))?
    }

    /// As [`verify_password`], in this slot.
    pub async fn verify(self, password: String, hash: Option<String>) -> bool {
        self.run(move || verify_in_place(&password, hash.as_deref()))
            .await
            .unwrap_or(false)
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checking_in_kept_memory_agrees_with_argon2() {
        let Ok(hash) = hash_now("correct horse battery") else {
            panic!("hashing failed");
        };
        for _ in 0..2 {
            assert!(verify_in_place("correct horse battery", Some(&hash)));
            assert!(!verify_in_place("correct horse battery!", Some(&hash)));
        }
        assert!(verify_now("correct horse battery", Some(&hash)));
        assert!(!verify_in_place("anything", None));
        assert!(!verify_in_place("anything", Some("not a hash")));
        // A hash made with other parameters is checked with its own.
        let small = argon2::Params::new(8 * 1024, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let other = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, small)
            .hash_password(b"pw-pw-pw-pw", &salt)
            .unwrap()
            .to_string();
        assert!(verify_in_place("pw-pw-pw-pw", Some(&other)));
        assert!(!verify_in_place("pw-pw-pw-pX", Some(&other)));
    }
}
