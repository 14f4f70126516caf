//! WAL checkpoints off the writer's path: a thread with its own connection copies committed
//! WAL frames back into the database file (and waits for the disk) while the writer goes on
//! appending, so the writer never stalls on an `fsync`.
//!
//! Started by the writer thread for a file database; the writer's own connection then runs no
//! automatic checkpoints. When the WAL still grows past `WAL_LIMIT_FRAMES` (the checkpointer
//! never found a quiet moment to finish), the writer checkpoints itself between two commits,
//! which always finishes, so the next commit starts the WAL over.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, RecvTimeoutError, Sender};

/// How often the background checkpoint runs.
const EVERY: Duration = Duration::from_millis(500);
/// WAL frames (16 KiB pages: 64 MiB) past which the writer checkpoints itself (quickly: the
/// checkpointer has copied most of them already).
pub const WAL_LIMIT_FRAMES: i64 = 4096;

/// The running checkpointer; `stop` ends it and waits for it.
pub struct Checkpointer {
    stop: Option<Sender<()>>,
    join: Option<JoinHandle<()>>,
    /// WAL frames the last checkpoint found (-1 before the first).
    wal_frames: Arc<AtomicI64>,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts checkpointing; `None` when either fails
    /// (the writer then keeps SQLite's automatic checkpoints).
    pub fn start(path: &Path) -> Option<Checkpointer> {
        let conn = super::sqlite::connect(path).ok()?;
        conn.busy_timeout(Duration::from_secs(5)).ok()?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0")
            .ok()?;
        let (stop, rx) = bounded::<()>(0);
        let wal_frames = Arc::new(AtomicI64::new(-1));
        let frames = wal_frames.clone();
        let join = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(EVERY) {
                    // (busy, frames in the WAL, frames copied back); an error (busy past the
                    // time-out) just waits for the next round.
                    if let Ok(n) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
                    {
                        frames.store(n, Ordering::Relaxed);
                    }
                }
            })
            .ok()?;
        Some(Checkpointer {
            stop: Some(stop),
            join: Some(join),
            wal_frames,
        })
    }

    /// Whether the WAL had grown past `WAL_LIMIT_FRAMES` at the last checkpoint; asking
    /// forgets the answer, so one long WAL costs the writer one checkpoint of its own.
    pub fn take_wal_too_long(&self) -> bool {
        self.wal_frames.swap(-1, Ordering::Relaxed) > WAL_LIMIT_FRAMES
    }

    /// Stop the thread and wait for a checkpoint in progress to end.
    pub fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn copies_committed_frames_into_the_file_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let w = Connection::open(&path).unwrap();
        w.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
             CREATE TABLE t (x BLOB);",
        )
        .unwrap();
        let mut c = Checkpointer::start(&path).expect("second connection");
        let before = std::fs::metadata(&path).unwrap().len();
        w.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO t SELECT randomblob(1000) FROM n;",
        )
        .unwrap();
        // The writer ran no checkpoint: only the background thread can grow the file.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).unwrap().len() < before + 1_000_000 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint ran");
            std::thread::sleep(Duration::from_millis(50));
        }
        c.stop();
        assert!(c.wal_frames.load(Ordering::Relaxed) > 0);
        assert!(!c.take_wal_too_long());
        assert_eq!(c.wal_frames.load(Ordering::Relaxed), -1);
        let n: i64 = w
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2000);
    }
}
