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
use dredge_session::{Failure, Job, JobEnd, JobProgress};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
        let (tx, rx) = unbounded();
        let interrupt = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let (i, p, j) = (Arc::clone(&interrupt), Arc::clone(&paused), job.clone());
        let handle = std::thread::spawn(move || {
            let r = j.run(&case_dir, &i, &mut |pr| {
                let _ = tx.send(Msg::Progress(pr.clone()));
                while p.load(Ordering::Relaxed) && !i.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
            let _ = tx.send(Msg::Done(r));
        });
        Running {
            job,
            interrupt,
            paused,
            rx,
            last: None,
            started: Instant::now(),
            handle: Some(handle),
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
