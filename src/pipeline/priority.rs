//! Thread priority for file replay into a database: the SQLite writer is the one stage that
//! cannot be split, and on a small machine the four stages feeding it took turns with it on
//! the same cores. Lowering theirs (never raising anyone's, which needs privileges) lets the
//! writer run whenever it has rows, as Suricata's per-thread `prio` settings do.
//!
//! Called at the start of the capture, analysis, aggregator and output threads.

/// How much nicer the stages upstream of the writer are than the process.
const UPSTREAM_NICE: i32 = 5;

/// Make the calling thread `UPSTREAM_NICE` nicer than it is. Best effort: a refusal only costs
/// speed.
pub fn yield_to_writer() {
    let tid = rustix::thread::gettid();
    if let Ok(now) = rustix::process::getpriority_process(Some(tid)) {
        let _ = rustix::process::setpriority_process(Some(tid), (now + UPSTREAM_NICE).min(19));
    }
}
