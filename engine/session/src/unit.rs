//! The boundary of a unit of work on hostile evidence (decision 0013).
//!
//! A volume layout, a filesystem probe, open or walk, a carver candidate or one
//! file's extraction runs inside [`contain`]: a panic (a parser bug reached by
//! crafted bytes, an overflow caught by `overflow-checks`) or an exhausted
//! [`dredge_core::UnitBudget`] unwinds to here and becomes a [`Finding`] with the
//! image offset and the reason. What the unit produced before stays recorded; the
//! case goes on. Contained panics print nothing: the finding is the one record,
//! and a panic outside any unit still reaches the previous hook.

use dredge_core::{memory, BudgetExceeded, Finding, UnitBudget};
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Once};
use std::time::Duration;

/// How long one filesystem unit may run before it is cut short. A byte budget
/// stops cycles deterministically long before this; the clock is the last resort.
pub(crate) const UNIT_TIME: Duration = Duration::from_secs(15 * 60);

thread_local! {
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) == 0 {
                return prev(info);
            }
            let payload = info.payload();
            let text = if let Some(b) = payload.downcast_ref::<BudgetExceeded>() {
                b.what.clone()
            } else {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                match info.location() {
                    Some(l) => format!("internal error at {}:{}: {msg}", l.file(), l.line()),
                    None => format!("internal error: {msg}"),
                }
            };
            LAST.with(|l| *l.borrow_mut() = Some(text));
        }));
    });
}

/// Runs `f` as a unit that reads no volume of its own (a carver candidate, one
/// file's copy, a partition table): its value, or why it was cut short.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    contain_reading(0, f)
}

/// Runs `f` as a unit reading a volume of `len` bytes; what it may hold grows
/// with the volume (`dredge_core::memory::unit_limit`).
pub(crate) fn contain_reading<T>(len: u64, f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    let r = {
        let _unit = memory::Scope::enter(memory::unit_limit(len));
        catch_unwind(AssertUnwindSafe(f))
    };
    DEPTH.with(|d| d.set(d.get() - 1));
    r.map_err(|payload| {
        LAST.with(|l| l.borrow_mut().take())
            .or_else(|| {
                payload
                    .downcast_ref::<BudgetExceeded>()
                    .map(|b| b.what.clone())
            })
            .unwrap_or_else(|| "internal error".into())
    })
}

/// The finding for a unit cut short at image offset `offset`.
pub(crate) fn cut_short(offset: u64, what: &str, why: &str) -> Finding {
    Finding {
        unit_cut_short: true,
        ..Finding::new(
            offset,
            format!("{what} cut short: {why}; what it produced before is kept"),
        )
    }
}

/// How many of `findings` record a unit cut short (for the session's count).
pub(crate) fn count_cut_short(findings: &[Finding]) -> u64 {
    findings.iter().filter(|f| f.unit_cut_short).count() as u64
}

/// A fresh budget for a reader of a volume of `len` bytes.
pub(crate) fn volume_budget(len: u64) -> Arc<UnitBudget> {
    Arc::new(UnitBudget::for_volume(len, UNIT_TIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_reason_and_the_caller_goes_on() {
        let r: Result<u32, String> = contain(|| {
            let v: Vec<u32> = Vec::new();
            v[usize::from(std::hint::black_box(3u8))]
        });
        let why = r.unwrap_err();
        assert!(why.contains("internal error at") && why.contains("index out of bounds"));
        assert_eq!(contain(|| 7).unwrap(), 7);
    }

    #[test]
    fn an_exhausted_budget_names_itself() {
        let b = UnitBudget::new(100, Duration::from_secs(60));
        let r = contain(|| {
            for _ in 0..10 {
                b.charge(30);
            }
        });
        assert!(r.unwrap_err().contains("read budget of 100 bytes"));
        assert_eq!(b.bytes_read(), 120);
    }
}
