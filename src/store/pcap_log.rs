//! The pcap logger: writes frames to nanosecond-resolution pcap files, rotating by size and
//! keeping one file per link type; plus `write_pcap` for one-off exports.
//!
//! `spawn_pcap_logger` runs a `PcapLogger` on its own thread fed by a bounded channel of
//! frame batches; it blocks only on the channel and the disk. The console's export calls
//! `write_pcap` from its command thread.
//!
//! File naming: the first file is the path given (`capture.pcap`); every later file — after
//! a rotation, or for a new link type — takes the next number before the extension:
//! `capture.1.pcap`, `capture.2.pcap`, … (a path without an extension gets `capture.1`).
//! A name that already exists (an earlier run's file, or anything else) is never opened or
//! truncated: the log takes the next free number, as tcpdump -C numbers its files, so every
//! run keeps the files of the runs before it. Numbers follow creation order across all link
//! types; `PcapLogSummary::files` lists each file with its link type and counts. A pcap file holds a single link type, so frames of a
//! pcapng with several kinds of interface go to one open file per link type (at most
//! `MAX_OPEN_FILES` at once; the least recently used is closed beyond that and a later frame
//! of its type starts a new file). Rotation (`rotate_bytes`) starts a new file before a
//! record would push the current one past the limit; a file always gets at least one record.
//!
//! Records keep the frame's timestamp to the nanosecond and its `orig_len`; data beyond
//! `snaplen` is cut. The header advertises a snaplen of at least 262144 (libpcap's maximum)
//! because readers such as pcap-file 2 reject records whose `orig_len` exceeds the header's
//! snaplen, which every truncated frame's does.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Receiver;
use pcap_file::pcap::PcapHeader;
use pcap_file::{DataLink, Endianness, TsResolution};

use super::safe_file::SafeFileError;
use super::StoreError;
use crate::engine::frame::{LinkType, RawFrame, Ts};

/// libpcap's MAXIMUM_SNAPLEN; also the default snaplen.
pub const MAX_SNAPLEN: u32 = 262_144;
/// Files open at once (one per link type in use).
pub const MAX_OPEN_FILES: usize = 8;
const GLOBAL_HEADER_LEN: u64 = 24;
const RECORD_HEADER_LEN: u64 = 16;
/// Numbers tried past existing files before the log gives up on a base name.
const MAX_SKIPPED: u64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapLogOptions {
    /// Bytes kept per frame; 0 means `MAX_SNAPLEN` (as `tcpdump -s 0`).
    pub snaplen: u32,
    /// Start a new file before one would grow past this many bytes.
    pub rotate_bytes: Option<u64>,
}

impl Default for PcapLogOptions {
    fn default() -> Self {
        PcapLogOptions {
            snaplen: MAX_SNAPLEN,
            rotate_bytes: None,
        }
    }
}

/// One file the logger wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcapFileInfo {
    pub path: PathBuf,
    pub linktype: LinkType,
    pub packets: u64,
    /// File size, headers included.
    pub bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcapLogSummary {
    /// Every file written, in creation order.
    pub files: Vec<PcapFileInfo>,
    pub packets: u64,
    /// Frames cut to `snaplen`.
    pub truncated: u64,
    /// Frames whose timestamp lay outside pcap's range (1970..2106) and was clamped into it.
    pub clamped_ts: u64,
}

struct OpenFile {
    /// Position in the file sequence, for ordering the summary.
    index: u64,
    info: PcapFileInfo,
    writer: BufWriter<File>,
    last_used: u64,
}

/// Writes frames to rotating pcap files; see the module notes for naming.
pub struct PcapLogger {
    base: PathBuf,
    opts: PcapLogOptions,
    next_index: u64,
    open: Vec<OpenFile>,
    closed: Vec<(u64, PcapFileInfo)>,
    tick: u64,
    summary: PcapLogSummary,
    /// Refuse a name that exists (exports) instead of moving on to the next number (the log).
    refuse_existing: bool,
}

/// The path of file number `index` in the sequence starting at `base`.
pub fn numbered_path(base: &Path, index: u64) -> PathBuf {
    if index == 0 {
        return base.to_path_buf();
    }
    let stem = base.file_stem().unwrap_or_default().to_string_lossy();
    let name = match base.extension() {
        Some(ext) => format!("{stem}.{index}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{index}"),
    };
    base.with_file_name(name)
}

impl PcapLogger {
    /// Prepares a logger writing to `path` (and numbered siblings). Checks the directory (see
    /// `safe_file`); the first file is created by the first frame, since its link type decides
    /// the header.
    pub fn create(path: &Path, opts: PcapLogOptions) -> Result<Self, StoreError> {
        super::safe_file::prepare_dir(path)?;
        // The first file is created later; a link in its place is refused now, not mid-run.
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(SafeFileError::Symlink {
                path: path.to_path_buf(),
            }
            .into());
        }
        let snaplen = if opts.snaplen == 0 {
            MAX_SNAPLEN
        } else {
            opts.snaplen
        };
        Ok(PcapLogger {
            base: path.to_path_buf(),
            opts: PcapLogOptions { snaplen, ..opts },
            next_index: 0,
            open: Vec::new(),
            closed: Vec::new(),
            tick: 0,
            summary: PcapLogSummary::default(),
            refuse_existing: false,
        })
    }

    /// For a file that must be new (an export, a generated capture): a path that exists is
    /// refused instead of skipped.
    #[must_use]
    pub fn refusing_existing(mut self) -> Self {
        self.refuse_existing = true;
        self
    }

    /// Appends one frame to the file for its link type.
    pub fn write(&mut self, frame: &RawFrame) -> Result<(), StoreError> {
        self.tick += 1;
        let keep = frame.data.len().min(self.opts.snaplen as usize);
        let record_len = RECORD_HEADER_LEN + keep as u64;
        let slot = self.slot_for(frame.linktype, record_len)?;
        let (ts_sec, ts_frac, clamped) = pcap_time(frame.ts);
        // A frame claiming fewer bytes on the wire than were captured is malformed;
        // readers reject incl_len > orig_len, so keep the file valid.
        let orig_len = frame
            .orig_len
            .max(u32::try_from(frame.data.len()).unwrap_or(u32::MAX));
        let mut head = [0u8; RECORD_HEADER_LEN as usize];
        head[0..4].copy_from_slice(&ts_sec.to_le_bytes());
        head[4..8].copy_from_slice(&ts_frac.to_le_bytes());
        head[8..12].copy_from_slice(&u32::try_from(keep).unwrap_or(u32::MAX).to_le_bytes());
        head[12..16].copy_from_slice(&orig_len.to_le_bytes());
        let file = &mut self.open[slot];
        write_parts(
            &mut file.writer,
            &file.info.path,
            &[&head, &frame.data[..keep]],
        )?;
        file.info.packets += 1;
        file.info.bytes += record_len;
        file.last_used = self.tick;
        self.summary.packets += 1;
        self.summary.truncated += u64::from(keep < frame.data.len());
        self.summary.clamped_ts += u64::from(clamped);
        Ok(())
    }

    /// Pushes buffered records to the files, so readers see them.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        for f in &mut self.open {
            flush_writer(&mut f.writer, &f.info.path)?;
        }
        Ok(())
    }

    /// Flushes and closes every file and returns what was written.
    pub fn finish(mut self) -> Result<PcapLogSummary, StoreError> {
        let open = std::mem::take(&mut self.open);
        for f in open {
            close(f, &mut self.closed)?;
        }
        let mut files = std::mem::take(&mut self.closed);
        files.sort_by_key(|(index, _)| *index);
        Ok(PcapLogSummary {
            files: files.into_iter().map(|(_, info)| info).collect(),
            ..self.summary
        })
    }

    /// Index in `self.open` of the file that takes the next record of `linktype`, rotating
    /// or opening as needed.
    fn slot_for(&mut self, linktype: LinkType, record_len: u64) -> Result<usize, StoreError> {
        if let Some(i) = self.open.iter().position(|f| f.info.linktype == linktype) {
            let info = &self.open[i].info;
            let over = self
                .opts
                .rotate_bytes
                .is_some_and(|limit| info.packets > 0 && info.bytes + record_len > limit);
            if !over {
                return Ok(i);
            }
            let f = self.open.swap_remove(i);
            close(f, &mut self.closed)?;
        } else if self.open.len() >= MAX_OPEN_FILES {
            let lru = (0..self.open.len())
                .min_by_key(|i| self.open[*i].last_used)
                .unwrap_or(0);
            let f = self.open.swap_remove(lru);
            close(f, &mut self.closed)?;
        }
        let f = self.open_next(linktype)?;
        self.open.push(f);
        Ok(self.open.len() - 1)
    }

    fn open_next(&mut self, linktype: LinkType) -> Result<OpenFile, StoreError> {
        let (path, file) = self.create_next()?;
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: self.opts.snaplen.max(MAX_SNAPLEN),
            datalink: DataLink::from(linktype.0),
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
        };
        let mut writer = BufWriter::with_capacity(1 << 16, file);
        // Little-endian records are written by hand in `write`; the header must agree.
        header
            .write_to(&mut writer)
            .map_err(|source| StoreError::Pcap {
                path: path.clone(),
                source,
            })?;
        Ok(OpenFile {
            index: self.next_index - 1,
            info: PcapFileInfo {
                path,
                linktype,
                packets: 0,
                bytes: GLOBAL_HEADER_LEN,
            },
            writer,
            last_used: self.tick,
        })
    }
}

impl PcapLogger {
    /// Creates the next file of the sequence, new and exclusive: a file that already exists
    /// (an earlier run's) is never opened; the log moves on to the next number, an export is
    /// refused. A symbolic link in the sequence is refused either way.
    fn create_next(&mut self) -> Result<(PathBuf, File), StoreError> {
        loop {
            let path = numbered_path(&self.base, self.next_index);
            self.next_index += 1;
            match super::safe_file::create_new(&path) {
                Ok(f) => return Ok((path, f)),
                Err(SafeFileError::Exists { .. })
                    if !self.refuse_existing && self.next_index < MAX_SKIPPED =>
                {
                    continue
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn write_parts(w: &mut BufWriter<File>, path: &Path, parts: &[&[u8]]) -> Result<(), StoreError> {
    for part in parts {
        w.write_all(part).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

fn flush_writer(w: &mut BufWriter<File>, path: &Path) -> Result<(), StoreError> {
    w.flush().map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn close(f: OpenFile, closed: &mut Vec<(u64, PcapFileInfo)>) -> Result<(), StoreError> {
    let mut w = f.writer;
    flush_writer(&mut w, &f.info.path)?;
    closed.push((f.index, f.info));
    Ok(())
}

/// Seconds and nanoseconds as pcap stores them (u32 each), and whether `ts` had to be
/// clamped into that range.
fn pcap_time(ts: Ts) -> (u32, u32, bool) {
    match u32::try_from(ts.secs()) {
        Ok(secs) => (secs, ts.subsec_nanos(), false),
        Err(_) if ts.0 < 0 => (0, 0, true),
        Err(_) => (u32::MAX, 999_999_999, true),
    }
}

/// Writes `frames` to `path` with no rotation (frames of another link type than the first
/// go to numbered siblings, as the logger names them); refuses a path that exists. Returns the number of frames written.
/// With no frames, writes an empty Ethernet pcap so the file exists.
pub fn write_pcap<'a>(
    path: &Path,
    frames: impl IntoIterator<Item = &'a RawFrame>,
) -> Result<u64, StoreError> {
    let mut logger = PcapLogger::create(path, PcapLogOptions::default())?;
    logger = logger.refusing_existing();
    for frame in frames {
        logger.write(frame)?;
    }
    if logger.summary.packets == 0 {
        let f = logger.open_next(LinkType::ETHERNET)?;
        logger.open.push(f);
    }
    Ok(logger.finish()?.packets)
}

/// Starts the pcap logger thread (named `pcap-logger`): writes every batch received,
/// flushes whenever the channel is momentarily empty, and finishes when it closes. After a
/// write error (a full disk) it writes nothing more but keeps receiving until the channel
/// closes, adding every frame it could not write to `lost` (frames still in the failed
/// write's buffer are not counted: at most 64 KiB); the error is returned at the end.
pub fn spawn_pcap_logger(
    mut logger: PcapLogger,
    rx: Receiver<Vec<RawFrame>>,
    lost: Arc<AtomicU64>,
) -> JoinHandle<Result<PcapLogSummary, StoreError>> {
    let run = move || {
        let mut failed = None;
        for batch in &rx {
            if failed.is_some() {
                lost.fetch_add(batch.len() as u64, Relaxed);
                continue;
            }
            let mut result = Ok(());
            for (i, frame) in batch.iter().enumerate() {
                if let Err(e) = logger.write(frame) {
                    lost.fetch_add((batch.len() - i) as u64, Relaxed);
                    result = Err(e);
                    break;
                }
            }
            if result.is_ok() && rx.is_empty() {
                result = logger.flush();
            }
            failed = result.err();
        }
        match failed {
            Some(e) => Err(e),
            None => logger.finish(),
        }
    };
    std::thread::Builder::new()
        .name("pcap-logger".into())
        .spawn(run)
        .unwrap_or_else(|e| std::thread::spawn(move || Err(StoreError::Spawn(e))))
}
