//! A long job (add, acquire, scan) on a worker thread. The job sends its progress
//! into a channel the UI thread selects on together with input and ticks, so the
//! screen never waits for the engine.
//!
//! Pause is applied inside the job's progress callback: while paused it waits there,
//! and the bounded channels behind it stop the workers in turn. It therefore takes
//! effect at the job's next progress report (a fraction of a second while hashing,
//! copying, extracting or carving). Cancel raises the job's interrupt flag; the
//! engine ends the session as interrupted, and a later resume continues from what
//! was sealed.

use crossbeam_channel::{unbounded, Receiver};
use dredge_session::{Failure, Job, JobEnd, JobProgress, ProgressFn};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The worker thread's name: the panic hook leaves the terminal alone for it.
pub const JOB_THREAD: &str = "dredge-job";

pub enum Msg {
    Progress(JobProgress),
    Done(Result<JobEnd, Failure>),
}

pub struct Running {
    pub job: Job,
    pub interrupt: Arc<AtomicBool>,
    pub paused: Arc<AtomicBool>,
    pub rx: Receiver<Msg>,
    pub last: Option<JobProgress>,
    pub started: Instant,
    handle: Option<JoinHandle<()>>,
}

impl Running {
    pub fn start(case_dir: PathBuf, job: Job) -> Running {
        let j = job.clone();
        Running::spawn(job, move |interrupt, progress| {
            j.run(&case_dir, interrupt, progress)
        })
    }

    /// Runs `work` on the job thread as `job`, with pause, cancel and panic handling.
    fn spawn(
        job: Job,
        work: impl FnOnce(&AtomicBool, ProgressFn<'_>) -> Result<JobEnd, Failure> + Send + 'static,
    ) -> Running {
        let (tx, rx) = unbounded();
        let interrupt = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let (i, p) = (Arc::clone(&interrupt), Arc::clone(&paused));
        let spawn_failed = tx.clone();
        let work = move || {
            // A panic in the engine is a bug, but it must not take the screen (and
            // the examiner's other work) with it: the job fails with a line saying so,
            // and its session, left running, is resumable like a killed one.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                work(&i, &mut |pr| {
                    let _ = tx.send(Msg::Progress(pr.clone()));
                    while p.load(Ordering::Relaxed) && !i.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                })
            }))
            .unwrap_or_else(|e| {
                let why = e
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| e.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown");
                Err(Failure(format!(
                    "internal error (a bug in dredge; please report it): {why}; the session stays unfinished"
                )))
            });
            let _ = tx.send(Msg::Done(r));
        };
        let handle = match std::thread::Builder::new()
            .name(JOB_THREAD.into())
            .spawn(work)
        {
            Ok(h) => Some(h),
            Err(e) => {
                let _ = spawn_failed.send(Msg::Done(Err(Failure(format!(
                    "cannot start the job: {e}"
                )))));
                None
            }
        };
        Running {
            job,
            interrupt,
            paused,
            rx,
            last: None,
            started: Instant::now(),
            handle,
        }
    }

    pub fn toggle_pause(&self) -> bool {
        let now = !self.paused.load(Ordering::Relaxed);
        self.paused.store(now, Ordering::Relaxed);
        now
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    pub fn cancel(&self) {
        self.interrupt.store(true, Ordering::Relaxed);
        self.paused.store(false, Ordering::Relaxed);
    }

    pub fn cancelling(&self) -> bool {
        self.interrupt.load(Ordering::Relaxed)
    }

    /// Waits for the thread of a job that has sent `Done`.
    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }

    /// Cancels and waits for the job to record its end (quit, or a signal).
    pub fn cancel_and_wait(&mut self) -> Option<Result<JobEnd, Failure>> {
        self.cancel();
        let mut end = None;
        for m in self.rx.iter() {
            if let Msg::Done(r) = m {
                end = Some(r);
                break;
            }
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_job_fails_with_a_line_and_the_ui_goes_on() {
        let r = Running::spawn(Job::Verify, |_, _| panic!("index out of bounds at 0x1f3"));
        let end =
            r.rx.iter()
                .find_map(|m| match m {
                    Msg::Done(d) => Some(d),
                    Msg::Progress(_) => None,
                })
                .expect("the job reports its end");
        let e = end.expect_err("a panic is a failure").0;
        assert!(e.contains("internal error") && e.contains("0x1f3"), "{e}");
        r.join();
    }
}
