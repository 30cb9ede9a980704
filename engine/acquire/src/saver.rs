//! Saves the mapfile off the copy's thread.
//!
//! A mapfile may only describe image data that is on disk, so each save syncs
//! the image first, and on a 256 MiB image that sync takes 0.4–1 s of writeback.
//! Done on the copy's thread every second it stalled the reads for that long (the
//! copy had to wait for the disk it writes to, while the failing drive sat idle).
//! Here a thread of its own does the sync and the atomic replace; the copy hands
//! it a snapshot of the map's text and goes on reading. The guarantee holds: the
//! snapshot is taken after every write it describes has returned, and the sync
//! runs after the snapshot. A newer snapshot replaces one not yet saved (it
//! describes at least as much); the last save of a run waits for the disk.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// A failed save: the file it concerns and what went wrong.
pub(crate) type SaveError = (PathBuf, String);

#[derive(Default)]
struct State {
    pending: Option<String>,
    busy: bool,
    stop: bool,
    error: Option<SaveError>,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

pub(crate) struct MapSaver {
    shared: Shared,
    handle: Option<JoinHandle<()>>,
}

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    // The saver's code cannot panic while holding the lock; a poisoned lock still
    // holds a consistent state.
    s.0.lock().unwrap_or_else(|p| p.into_inner())
}

impl MapSaver {
    /// `image` is a handle on the image being written (it is synced before each
    /// save); `map_path` the mapfile, replaced through `map_path` + `.tmp`.
    pub(crate) fn new(image: File, image_path: &Path, map_path: &Path) -> Self {
        let shared: Shared = Arc::default();
        let s = Arc::clone(&shared);
        let image_path = image_path.to_path_buf();
        let map_path = map_path.to_path_buf();
        let handle = std::thread::spawn(move || loop {
            let text = {
                let mut st = lock(&s);
                while st.pending.is_none() && !st.stop {
                    st = s.1.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                match st.pending.take() {
                    Some(t) => {
                        st.busy = true;
                        t
                    }
                    None => return,
                }
            };
            let r = save(&image, &image_path, &map_path, &text);
            let mut st = lock(&s);
            st.busy = false;
            if let Err(e) = r {
                st.error.get_or_insert(e);
            }
            s.1.notify_all();
        });
        MapSaver {
            shared,
            handle: Some(handle),
        }
    }

    /// Queues `text` to be saved, replacing a snapshot not yet started.
    pub(crate) fn request(&self, text: String) {
        lock(&self.shared).pending = Some(text);
        self.shared.1.notify_all();
    }

    /// Whether nothing is being saved or waiting to be.
    pub(crate) fn idle(&self) -> bool {
        let st = lock(&self.shared);
        !st.busy && st.pending.is_none()
    }

    /// The first failed save, if any (it is reported once).
    pub(crate) fn take_error(&self) -> Option<SaveError> {
        lock(&self.shared).error.take()
    }

    /// Waits until every requested save is on disk; the first failure, if any.
    pub(crate) fn flush(&self) -> Result<(), SaveError> {
        let mut st = lock(&self.shared);
        while st.busy || st.pending.is_some() {
            st = self.shared.1.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        match st.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for MapSaver {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.1.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Syncs the image, then atomically replaces the mapfile with `text`.
fn save(image: &File, image_path: &Path, map_path: &Path, text: &str) -> Result<(), SaveError> {
    image
        .sync_data()
        .map_err(|e| (image_path.to_path_buf(), format!("cannot sync image: {e}")))?;
    let tmp = {
        let mut s = map_path.to_path_buf().into_os_string();
        s.push(".tmp");
        PathBuf::from(s)
    };
    let write = || -> std::io::Result<()> {
        let f = File::create(&tmp)?;
        f.write_all_at(text.as_bytes(), 0)?;
        f.sync_all()?;
        std::fs::rename(&tmp, map_path)
    };
    write().map_err(|e| (map_path.to_path_buf(), format!("cannot save mapfile: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_requested_text_is_on_disk_after_flush() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("i.img");
        let map = dir.path().join("i.map");
        let f = File::create(&img).unwrap();
        let s = MapSaver::new(f, &img, &map);
        for i in 0..50 {
            s.request(format!("snapshot {i}\n"));
        }
        s.flush().unwrap();
        assert!(s.idle());
        assert_eq!(std::fs::read_to_string(&map).unwrap(), "snapshot 49\n");
        assert!(!dir.path().join("i.map.tmp").exists());
    }

    #[test]
    fn a_failed_save_is_reported_with_the_mapfile_path() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("i.img");
        // The mapfile's folder does not exist: the save cannot create its tmp.
        let map = dir.path().join("gone").join("i.map");
        let s = MapSaver::new(File::create(&img).unwrap(), &img, &map);
        s.request("x".into());
        let (path, what) = s.flush().unwrap_err();
        assert_eq!(path, map);
        assert!(what.contains("cannot save mapfile"), "{what}");
        // Reported once; a later save that works clears nothing it should not.
        assert!(s.take_error().is_none());
    }
}
