//! Memory held by a unit of work (decision 0013, issue 17).
//!
//! Sizes found in evidence are checked before buffers are made from them
//! (`VolumeReader::read_vec`), but lists that grow entry by entry (names, runs,
//! queues) are only bounded by each reader's own limits. This module counts what
//! a unit holds, so that a reader that slipped past its limits is cut short like
//! one that read too much, instead of taking the machine's memory and the case
//! with it.
//!
//! - [`Counting`] wraps the program's global allocator (the `dredge` binary wraps
//!   mimalloc with it). It adds each allocation's requested size
//!   to a counter of the thread that made it, and subtracts what that thread frees.
//!   Requested sizes, not what the system allocator rounds them to, so the count is
//!   the same on every machine. Where it is not installed (parser unit tests) the
//!   counter stays at 0 and no limit ever trips.
//! - [`Scope::enter`] starts a unit on this thread with a limit; [`check`], called
//!   where units already stop for their read budget and the interrupt flag, unwinds
//!   with a [`BudgetExceeded`] once the thread holds more than the limit beyond what
//!   it held when the unit began. An allocation itself cannot unwind (the global
//!   allocator may not panic, and a failed allocation aborts the process), so the
//!   limit is enforced at these checks: a unit is cut at the first check past it.
//! - [`uncounted`] runs code that is the caller's, not the unit's (the session
//!   keeping an entry a walk yielded): what it allocates is not charged to the unit.
//!
//! Memory is counted per thread: a unit runs on one thread, and what it hands to
//! another thread stays charged to it (a conservative count, never a lower one).

use crate::BudgetExceeded;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts what each thread allocates through the allocator it wraps; see the
/// module's documentation.
pub struct Counting<A>(pub A);

thread_local! {
    /// Bytes this thread allocated minus bytes it freed, while counting.
    static HELD: Cell<i64> = const { Cell::new(0) };
    /// More than 0 while code that is not the unit's runs.
    static PAUSED: Cell<u32> = const { Cell::new(0) };
    /// What the thread held when its current unit began, and the unit's limit.
    static BASE: Cell<i64> = const { Cell::new(0) };
    static LIMIT: Cell<u64> = const { Cell::new(u64::MAX) };
    /// How many units are open on this thread (nested units count each).
    static UNITS: Cell<u32> = const { Cell::new(0) };
}

fn add(n: i64) {
    // `try_with`: allocations made while the thread's locals are torn down are
    // not counted (the thread runs no unit any more).
    let _ = PAUSED.try_with(|p| {
        if p.get() == 0 {
            let _ = HELD.try_with(|h| h.set(h.get().wrapping_add(n)));
        }
    });
}

fn signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// SAFETY: every call is passed on to the wrapped allocator unchanged; the counters
// are const-initialised thread-locals without destructors, which neither allocate
// nor panic.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            add(signed(layout.size()));
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            add(signed(layout.size()));
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which is the wrapped one.
        unsafe { self.0.dealloc(ptr, layout) };
        add(-signed(layout.size()));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `dealloc`.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(signed(new_size).wrapping_sub(signed(layout.size())));
        }
        p
    }
}

/// Bytes this thread holds by the count (0 where [`Counting`] is not installed).
pub fn held() -> i64 {
    HELD.with(Cell::get)
}

/// Bytes the current unit of this thread holds beyond what the thread held when
/// the unit began (0 outside a unit).
pub fn unit_held() -> u64 {
    if UNITS.with(Cell::get) == 0 {
        return 0;
    }
    u64::try_from(held().wrapping_sub(BASE.with(Cell::get))).unwrap_or(0)
}

/// The limit for a unit reading `len` bytes of evidence (a volume; 0 for units
/// that read no volume of their own, such as a carver candidate or one file's
/// copy): 1 GiB, plus 16 bytes per byte read. An honest reader holds a small
/// fraction of its volume (a directory entry of 32 bytes becomes an entry of a few
/// hundred bytes at most, and the session keeps entries outside the count); a
/// small image that makes a reader hold more was built to. The floor leaves room
/// for what does not grow with the volume (a LUKS2 keyslot's Argon2 memory).
pub fn unit_limit(len: u64) -> u64 {
    match FIXED.load(Ordering::Relaxed) {
        0 => len.saturating_mul(16).saturating_add(1 << 30),
        fixed => fixed,
    }
}

/// A limit set by the examiner (`--unit-memory`); 0 when none was.
static FIXED: AtomicU64 = AtomicU64::new(0);

/// Makes every unit's limit `limit` bytes, whatever it reads (at least 1); None
/// goes back to the default of [`unit_limit`].
pub fn fix_limit(limit: Option<u64>) {
    FIXED.store(limit.map_or(0, |l| l.max(1)), Ordering::Relaxed);
}

/// The limit set with [`fix_limit`], if one is.
pub fn fixed_limit() -> Option<u64> {
    match FIXED.load(Ordering::Relaxed) {
        0 => None,
        l => Some(l),
    }
}

/// One unit on this thread; the previous unit's count and limit come back when
/// it is dropped (also when the unit unwinds).
pub struct Scope {
    base: i64,
    limit: u64,
}

impl Scope {
    #[must_use = "the unit ends when its scope is dropped"]
    pub fn enter(limit: u64) -> Scope {
        UNITS.with(|u| u.set(u.get().saturating_add(1)));
        Scope {
            base: BASE.with(|b| b.replace(held())),
            limit: LIMIT.with(|l| l.replace(limit)),
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        UNITS.with(|u| u.set(u.get().saturating_sub(1)));
        BASE.with(|b| b.set(self.base));
        LIMIT.with(|l| l.set(self.limit));
    }
}

/// Unwinds with [`BudgetExceeded`] once the current unit holds more than its limit.
pub fn check() {
    let limit = LIMIT.with(Cell::get);
    if limit == u64::MAX {
        return;
    }
    let now = unit_held();
    if now > limit {
        std::panic::panic_any(BudgetExceeded {
            what: format!(
                "memory budget of {limit} bytes exhausted ({now} bytes held; \
                 a list grown from the evidence past its bounds)"
            ),
        });
    }
}

/// Takes `bytes` off the current unit's count: memory the unit allocated and
/// handed to its caller (an entry a walk yielded, now kept by the session), which
/// the unit no longer holds. A no-op where nothing is counted.
pub fn hand_over(bytes: u64) {
    add(-i64::try_from(bytes).unwrap_or(i64::MAX));
}

/// Runs `f` without charging what it allocates or frees to the current unit.
pub fn uncounted<T>(f: impl FnOnce() -> T) -> T {
    struct Resume;
    impl Drop for Resume {
        fn drop(&mut self) {
            PAUSED.with(|p| p.set(p.get().saturating_sub(1)));
        }
    }
    PAUSED.with(|p| p.set(p.get().saturating_add(1)));
    let _resume = Resume;
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The library's tests run without the counting allocator (tests/memory.rs
    // installs it): nothing is counted and nothing trips.
    #[test]
    fn without_the_allocator_nothing_trips() {
        let _unit = Scope::enter(0);
        let v = vec![0u8; 1 << 20];
        check();
        assert_eq!(unit_held(), 0);
        drop(v);
    }

    #[test]
    fn the_volume_limit_grows_with_the_volume_and_never_wraps() {
        assert_eq!(unit_limit(0), 1 << 30);
        assert_eq!(unit_limit(1 << 20), (1 << 30) + (16 << 20));
        assert_eq!(unit_limit(u64::MAX), u64::MAX);
    }
}
