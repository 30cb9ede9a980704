//! Budgets for units of work on hostile evidence.
//!
//! A unit (one filesystem reader, one volume scan, one carver candidate) may read
//! only so many bytes and run only so long. Parsers cannot be trusted to be perfect
//! on evidence built to hurt them, so the limit is enforced where every parser must
//! pass: the reads. When a unit overspends, the read unwinds with a
//! [`BudgetExceeded`] payload; the session catches it at the unit's boundary
//! (`catch_unwind`), keeps what the unit produced before, and records a finding.
//!
//! Byte budgets are deterministic (the same evidence cuts a unit at the same read);
//! the time limit is the last resort for loops that a byte count cannot see, and
//! says so in its finding.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a unit was cut short: the panic payload a budget unwinds with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetExceeded {
    pub what: String,
}

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

/// What one unit may spend. Shared by the clones of a unit's reader.
#[derive(Debug)]
pub struct UnitBudget {
    read_limit: u64,
    read: AtomicU64,
    started: Instant,
    time_limit: Duration,
}

impl UnitBudget {
    pub fn new(read_limit: u64, time_limit: Duration) -> Self {
        UnitBudget {
            read_limit,
            read: AtomicU64::new(0),
            started: Instant::now(),
            time_limit,
        }
    }

    /// The usual budget for a reader of a volume of `len` bytes: metadata walks read
    /// a few times the volume at most (backups, journals, directory re-reads); a
    /// walk reading 16 times its volume plus 1 GiB is following a cycle.
    pub fn for_volume(len: u64, time_limit: Duration) -> Self {
        Self::new(len.saturating_mul(16).saturating_add(1 << 30), time_limit)
    }

    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Counts a read of `n` bytes; unwinds with [`BudgetExceeded`] once the unit has
    /// read more than its limit or run past its time.
    pub fn charge(&self, n: u64) {
        let total = self.read.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if total > self.read_limit {
            std::panic::panic_any(BudgetExceeded {
                what: format!(
                    "read budget of {} bytes exhausted (a cycle or a size field out of bounds)",
                    self.read_limit
                ),
            });
        }
        self.check_time();
    }

    /// Unwinds with [`BudgetExceeded`] once the unit has run past its time or
    /// holds more memory than its limit (`memory::check`).
    pub fn check_time(&self) {
        crate::memory::check();
        if self.started.elapsed() > self.time_limit {
            std::panic::panic_any(BudgetExceeded {
                what: format!("time budget of {} s exhausted", self.time_limit.as_secs()),
            });
        }
    }
}
