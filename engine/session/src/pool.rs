//! Many workers, one writer (the shape of gitoxide's `in_parallel`): items are
//! fed to `threads` workers over a bounded channel, and their results come back
//! to the calling thread, which alone touches the store. Extraction and the
//! files the pass wrote use it; the pass itself has its own pipeline (decision
//! 0014), since its items are blocks of one read, not independent tasks.

use crate::Failure;
use crossbeam_channel::bounded;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runs `work` on every item on `threads` workers and hands each result to
/// `write` on the calling thread, in the order results arrive. Workers stop
/// taking items once `interrupt` is set; `write` returning an error stops the
/// feeding and the workers, and is returned. Memory: at most `4 × threads`
/// items and results are in flight.
pub(crate) fn in_parallel<T, R, I>(
    items: I,
    threads: usize,
    interrupt: Option<&AtomicBool>,
    work: impl Fn(T) -> R + Sync,
    mut write: impl FnMut(R) -> Result<(), Failure>,
) -> Result<(), Failure>
where
    T: Send,
    R: Send,
    I: IntoIterator<Item = T>,
    I::IntoIter: Send,
{
    let threads = threads.max(1);
    let (tx, rx) = bounded::<T>(threads * 4);
    let (rtx, rrx) = bounded::<R>(threads * 4);
    let work = &work;
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (rx, rtx) = (rx.clone(), rtx.clone());
            s.spawn(move || {
                for t in rx {
                    if interrupt.is_some_and(|i| i.load(Ordering::Relaxed)) {
                        break;
                    }
                    if rtx.send(work(t)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(rx);
        drop(rtx);
        let items = items.into_iter();
        s.spawn(move || {
            for t in items {
                if tx.send(t).is_err() {
                    break;
                }
            }
        });
        // Dropping the results' receiver on an error ends the workers' sends,
        // and with them the feeder's.
        for r in rrx {
            write(r)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::in_parallel;
    use crate::Failure;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn every_item_is_worked_once_and_written_by_the_caller() {
        let mut got = Vec::new();
        in_parallel(
            0..1000u64,
            3,
            None,
            |i| i * 2,
            |r| {
                got.push(r);
                Ok(())
            },
        )
        .unwrap();
        got.sort_unstable();
        assert_eq!(got, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_writer_error_stops_the_run_and_an_interrupt_stops_the_workers() {
        let mut n = 0;
        let r = in_parallel(
            0..1_000_000u64,
            2,
            None,
            |i| i,
            |_| {
                n += 1;
                if n == 10 {
                    return Err(Failure("disk full".into()));
                }
                Ok(())
            },
        );
        assert_eq!(r.unwrap_err().0, "disk full");
        let stop = AtomicBool::new(true);
        let mut written = 0;
        in_parallel(
            0..1_000_000u64,
            2,
            Some(&stop),
            |i| i,
            |_| {
                written += 1;
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(written, 0);
    }
}
