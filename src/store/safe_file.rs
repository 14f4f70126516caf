//! Opening the files a root process writes (database, pcap log, EVE, exports, the database's
//! lock) so that a local user cannot redirect them: a final symbolic link is never followed,
//! a new file is created exclusively with mode 0640, an existing one must be a regular file
//! of ours with a single link, and the directory must not be writable by other users unless
//! it is sticky and owned by root or by us. Only the data directory (`config::DATA_DIR`) is
//! created when missing.
//!
//! Called on whichever thread opens an output (main thread, pcap logger, the console's
//! command thread); blocks only on the file system.

use std::fs::{File, Metadata};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

/// Mode of every file nsm-tui creates: packets and payloads are not for every local user.
pub const FILE_MODE: u32 = 0o640;
/// Mode of the data directory when nsm-tui creates it.
pub const DIR_MODE: u32 = 0o750;

/// Why an output path was refused or could not be opened. Each variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum SafeFileError {
    #[error(
        "{} is a symbolic link; outputs are not written through links (give the real path)",
        path.display()
    )]
    Symlink { path: PathBuf },
    #[error("{} is not a regular file", path.display())]
    NotRegular { path: PathBuf },
    #[error(
        "{} belongs to uid {owner}, not to this user (uid {me}); remove it or choose another path",
        path.display()
    )]
    Foreign { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "{} has {links} hard links; an output must be its only name (remove it or choose another path)",
        path.display()
    )]
    HardLinked { path: PathBuf, links: u64 },
    #[error(
        "directory {} is writable by other users and not a sticky directory owned by root or \
         this user; choose a directory only this user can write to",
        path.display()
    )]
    OpenDir { path: PathBuf },
    #[error(
        "directory {} does not exist; create it first (only the data directory `{}` is created)",
        path.display(), crate::config::DATA_DIR
    )]
    NoDir { path: PathBuf },
    #[error(
        "cannot create the data directory {} (for the default database and pcap log): {source}; \
         start nsm-tui from a directory it can write to, set [storage] db_path and \
         pcap_log_path, or pass --no-db / --no-pcap-log",
        path.display()
    )]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} already exists; remove it or choose another name", path.display())]
    Exists { path: PathBuf },
    #[error(
        "database {} is being written by another nsm-tui (pid {pid}, lock file {}); stop that \
         one or choose another database",
        db.display(), lock.display()
    )]
    Locked {
        db: PathBuf,
        lock: PathBuf,
        pid: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SafeFileError + '_ {
    move |source| SafeFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The one other owner a root process accepts for its existing outputs: the unprivileged user
/// a capture switches to once it is open (`[sniffer] user`), whose database and logs the next
/// root run reads and writes. `u32::MAX`: none.
static CAPTURE_OWNER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(u32::MAX);

/// Accept existing outputs owned by `uid` as well (root only; the capture user's files).
pub fn trust_capture_owner(uid: u32) {
    CAPTURE_OWNER.store(uid, std::sync::atomic::Ordering::Relaxed);
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Refuses a directory other users could plant files in: world-writable, unless sticky and
/// owned by root or by us (as /tmp), where the kernel keeps others from replacing our files.
pub fn check_dir(dir: &Path) -> Result<(), SafeFileError> {
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SafeFileError::NoDir {
                path: dir.to_path_buf(),
            })
        }
        Err(e) => return Err(io_err(dir)(e)),
    };
    if !meta.is_dir() {
        return Err(SafeFileError::NotRegular {
            path: dir.to_path_buf(),
        });
    }
    let mode = meta.mode();
    let others_write = mode & 0o002 != 0;
    let sticky_ours = mode & 0o1000 != 0 && (meta.uid() == 0 || meta.uid() == euid());
    if others_write && !sticky_ours {
        return Err(SafeFileError::OpenDir {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Checks the directory of `path`; the data directory is created (one level, mode 0750) when
/// it is missing, any other missing directory is an error.
pub fn prepare_dir(path: &Path) -> Result<(), SafeFileError> {
    let dir = parent_of(path);
    if dir == Path::new(crate::config::DATA_DIR) && !dir.exists() {
        match std::fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                // Relative to the working directory, which the message names as well.
                let path =
                    std::env::current_dir().map_or_else(|_| dir.to_path_buf(), |c| c.join(dir));
                return Err(SafeFileError::DataDir { path, source });
            }
        }
    }
    check_dir(dir)
}

/// Refuses an opened (or found) file that is not a regular file of ours with one name.
fn check_meta(path: &Path, meta: &Metadata) -> Result<(), SafeFileError> {
    if meta.file_type().is_symlink() {
        return Err(SafeFileError::Symlink {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        return Err(SafeFileError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    let me = euid();
    let capture_owner =
        me == 0 && meta.uid() == CAPTURE_OWNER.load(std::sync::atomic::Ordering::Relaxed);
    if meta.uid() != me && !capture_owner {
        return Err(SafeFileError::Foreign {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    if meta.nlink() > 1 {
        return Err(SafeFileError::HardLinked {
            path: path.to_path_buf(),
            links: meta.nlink(),
        });
    }
    Ok(())
}

/// Checks a path something else will open (SQLite opens its own files): when it exists, it
/// must be a regular file of ours with one name, not a link. Returns whether it exists.
pub fn check_existing(path: &Path) -> Result<bool, SafeFileError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => check_meta(path, &meta).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn open_raw(path: &Path, flags: OFlags) -> Result<File, SafeFileError> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::open(path, flags, Mode::from_raw_mode(FILE_MODE)) {
        Ok(fd) => Ok(File::from(fd)),
        // O_EXCL on a final link fails with EEXIST: say which it was.
        Err(rustix::io::Errno::EXIST) => match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Err(SafeFileError::Symlink {
                path: path.to_path_buf(),
            }),
            _ => Err(SafeFileError::Exists {
                path: path.to_path_buf(),
            }),
        },
        // O_NOFOLLOW on a final link fails with ELOOP.
        Err(rustix::io::Errno::LOOP) => Err(SafeFileError::Symlink {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(io_err(path)(e.into())),
    }
}

/// Creates `path` as a new file (mode 0640) for writing; refuses one that exists, a link
/// included.
pub fn create_new(path: &Path) -> Result<File, SafeFileError> {
    prepare_dir(path)?;
    open_raw(path, OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL)
}

/// Opens `path` for appending, creating it (mode 0640) when missing; an existing file must be
/// a regular file of ours with one name.
pub fn open_append(path: &Path) -> Result<File, SafeFileError> {
    prepare_dir(path)?;
    let f = open_raw(path, OFlags::WRONLY | OFlags::CREATE | OFlags::APPEND)?;
    let meta = f.metadata().map_err(io_err(path))?;
    check_meta(path, &meta)?;
    Ok(f)
}

/// `path` with `suffix` appended to its file name (`x.db` → `x.db-wal`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Makes a database path safe for SQLite to open: the directory checked, the file created
/// here (mode 0640, so SQLite's -wal and -shm, which copy its mode, get it too) when missing,
/// and the file and its -wal, -shm and -journal, when present, regular files of ours.
pub fn prepare_db(path: &Path) -> Result<(), SafeFileError> {
    match create_new(path) {
        Ok(_) => {}
        Err(SafeFileError::Exists { .. }) => {
            check_existing(path)?;
        }
        Err(e) => return Err(e),
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        check_existing(&with_suffix(path, suffix))?;
    }
    Ok(())
}

/// An exclusive lock on a database for one writing process: an `flock` on `<db>.lock`,
/// which holds the owner's pid. Released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

impl DbLock {
    /// Takes the lock of the database at `db`, or says which process holds it.
    pub fn acquire(db: &Path) -> Result<DbLock, SafeFileError> {
        let lock = with_suffix(db, ".lock");
        prepare_dir(&lock)?;
        let mut file = open_raw(&lock, OFlags::RDWR | OFlags::CREATE)?;
        let meta = file.metadata().map_err(io_err(&lock))?;
        check_meta(&lock, &meta)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let mut held = String::new();
                let _ = file.read_to_string(&mut held);
                let pid = held.trim();
                return Err(SafeFileError::Locked {
                    db: db.to_path_buf(),
                    lock,
                    pid: if pid.is_empty() { "unknown" } else { pid }.to_string(),
                });
            }
            Err(e) => return Err(io_err(&lock)(e.into())),
        }
        file.set_len(0).map_err(io_err(&lock))?;
        file.rewind().map_err(io_err(&lock))?;
        writeln!(file, "{}", std::process::id()).map_err(io_err(&lock))?;
        Ok(DbLock { _file: file })
    }
}

/// Writes `bytes` to `path` whole: a new file (mode 0640) renamed over the old one, so a
/// reader never sees half of it; an existing `path` must be a regular file of ours.
pub fn replace_whole(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let tmp = with_suffix(path, &format!(".{}.tmp", std::process::id()));
    let mut f = create_new(&tmp).map_err(|e| e.to_string())?;
    let written = f
        .write_all(bytes)
        .and_then(|()| f.write_all(b"\n"))
        .and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("writing {}: {e}", tmp.display()));
    }
    if check_existing(path).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "{} exists and is not a regular file of ours; not replacing it",
            path.display()
        ));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("replacing {}: {e}", path.display())
    })
}

/// The text of `path`, refused when it is larger than `max` bytes.
pub fn read_capped(path: &Path, max: u64) -> Result<String, String> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    f.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > max {
        return Err(format!("larger than {} MB", max >> 20));
    }
    Ok(text)
}
