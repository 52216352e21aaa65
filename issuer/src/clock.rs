//! Time comes from an injected clock everywhere, so tests can move it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// UNIX seconds.
    fn now(&self) -> u64;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }
}

/// A clock that stands still until told to move; for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(t: u64) -> Self {
        Self(AtomicU64::new(t))
    }
    pub fn set(&self, t: u64) {
        self.0.store(t, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A clock offset from the system clock by a fixed number of seconds (`--clock-offset`), so
/// end-to-end tests can run the real binary "in the future" without touching the machine.
#[derive(Debug)]
pub struct OffsetClock(pub i64);

impl Clock for OffsetClock {
    fn now(&self) -> u64 {
        SystemClock.now().saturating_add_signed(self.0)
    }
}
