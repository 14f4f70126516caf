//! Storage: the SQLite database (packets, alerts, flows, incidents, audit trail, reputation
//! cache) and the pcap logger.
//!
//! Both run on their own threads, fed by bounded channels from the aggregator:
//! `writer::spawn_writer` owns a [`SqliteStore`] and coalesces messages into large
//! transactions; `pcap_log::spawn_pcap_logger` owns a [`PcapLogger`]. Either may block on the
//! disk, never on the producers. Readers (the console, `nsm-tui report`, the `sqlite3` CLI)
//! open the same file concurrently: the database runs in WAL mode, so they see every
//! committed batch without waiting on the writer.

pub mod audit;
pub mod audit_anchor;
pub mod blocks;
mod checkpoint;
pub mod classifier_file;
pub mod geo_records;
pub mod incidents;
mod insert;
pub mod model_file;
pub mod pcap_log;
pub mod profiles;
pub mod report;
pub mod reputation_cache;
pub mod rows;
pub mod safe_file;
pub mod schema;
pub mod sqlite;
pub mod writer;

use std::path::PathBuf;

pub use pcap_log::{
    spawn_pcap_logger, write_pcap, PcapFileInfo, PcapLogOptions, PcapLogSummary, PcapLogger,
};
pub use rows::{AlertRow, FlowRow};
pub use sqlite::{SqliteStore, StoreOptions};
pub use writer::{spawn_writer, StoreMsg, WriterSummary};

/// Everything that can go wrong in storage. Each variant names the file it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "database {} has schema version {found}, but this nsm-tui only knows versions up to \
         {known}; use a newer nsm-tui or another --db file",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("database {}: migration to schema version {version} failed: {source}", path.display())]
    Migration {
        path: PathBuf,
        version: i64,
        source: rusqlite::Error,
    },
    #[error("database {}: {what} failed: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        what: &'static str,
        source: rusqlite::Error,
    },
    #[error("database {}: journal_mode is {mode:?}, expected \"wal\"", path.display())]
    NotWal { path: PathBuf, mode: String },
    #[error(transparent)]
    File(#[from] safe_file::SafeFileError),
    #[error("cannot start storage thread: {0}")]
    Spawn(std::io::Error),
    #[error("pcap file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pcap file {}: {source}", path.display())]
    Pcap {
        path: PathBuf,
        source: pcap_file::PcapError,
    },
}
