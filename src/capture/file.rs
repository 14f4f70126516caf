//! File source: pcap (micro- or nanosecond, either byte order) and pcapng (several
//! interfaces with their own link types, enhanced and simple packet blocks) via `pcap-file`.
//!
//! Runs on the capture thread; blocks only on file reads.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption as IdbOption;
use pcap_file::pcapng::blocks::Block;
use pcap_file::pcapng::PcapNgReader;

use super::pcap_lax::{LaxPcapReader, MAX_FRAME_BYTES};
use super::{CaptureError, Source};
use crate::engine::frame::{LinkType, RawFrame, Ts};

const PCAP_MAGICS: [[u8; 4]; 4] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The input, read once from start to end, so pipes and FIFOs work as well as files.
type Input = BufReader<Box<dyn Read + Send>>;

/// A pcapng interface: its link type and how to turn its raw timestamps into nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: LinkType,
    /// `if_tsresol` (default 6: microseconds); high bit set means a power of two.
    tsresol: u8,
    /// `if_tsoffset` in seconds.
    tsoffset: i64,
}

impl Iface {
    /// pcap-file hands the raw 64-bit timestamp over as if it were nanoseconds; scale it by
    /// the interface's resolution.
    fn ts(&self, raw: std::time::Duration) -> Ts {
        let raw = raw.as_nanos();
        let nanos: u128 = if self.tsresol & 0x80 == 0 {
            let exp = u32::from(self.tsresol);
            if exp <= 9 {
                raw.saturating_mul(10u128.pow(9 - exp))
            } else {
                raw / 10u128.pow((exp - 9).min(38))
            }
        } else {
            let exp = u32::from(self.tsresol & 0x7f).min(127);
            raw.saturating_mul(1_000_000_000) >> exp
        };
        let base = i64::try_from(nanos).unwrap_or(i64::MAX);
        Ts(base.saturating_add(self.tsoffset.saturating_mul(Ts::NANOS_PER_SEC)))
    }
}

enum Reader {
    Pcap {
        r: LaxPcapReader<Input>,
        linktype: LinkType,
    },
    PcapNg {
        r: PcapNgReader<Input>,
        ifaces: Vec<Iface>,
    },
    Empty,
}

/// Reads frames from a pcap or pcapng file.
pub struct FileSource {
    /// Standard input or a FIFO rather than a regular file.
    pipe: bool,
    path: PathBuf,
    name: String,
    reader: Reader,
    read: u64,
}

impl FileSource {
    /// Opens the capture file at `path`, or standard input for `-`.
    ///
    /// # Errors
    /// `Open` when the file cannot be opened or read, `NotACapture` for an unknown magic number,
    /// `Corrupt` for a bad file header.
    pub fn open(path: &Path) -> Result<FileSource, CaptureError> {
        let f: Box<dyn Read + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin())
        } else {
            let f = File::open(path).map_err(|source| CaptureError::Open {
                path: path.to_path_buf(),
                source,
            })?;
            Box::new(f)
        };
        FileSource::from_reader(path, f)
    }

    /// Reads a capture from `f`, read once from start to end; `path` names it in errors
    /// (`-` reads as "standard input"). What `open` does after opening, and what the fuzz
    /// target for capture files calls with bytes held in memory.
    ///
    /// # Errors
    /// As for [`FileSource::open`].
    pub fn from_reader(
        path: &Path,
        mut f: Box<dyn Read + Send>,
    ) -> Result<FileSource, CaptureError> {
        let open_err = |source| CaptureError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut f, &mut magic).map_err(open_err)?;
        // The magic goes back in front of the rest: the input is never opened twice.
        let whole: Box<dyn Read + Send> =
            Box::new(std::io::Cursor::new(magic[..n].to_vec()).chain(f));
        let input = BufReader::with_capacity(1 << 20, whole);
        let corrupt = |e: pcap_file::PcapError| CaptureError::Corrupt {
            path: path.to_path_buf(),
            packets: 0,
            reason: e.to_string(),
        };
        let reader = if n == 0 {
            Reader::Empty
        } else if PCAP_MAGICS.contains(&magic) {
            let r = LaxPcapReader::new(input).map_err(|reason| CaptureError::Corrupt {
                path: path.to_path_buf(),
                packets: 0,
                reason,
            })?;
            let linktype = r.header().linktype;
            Reader::Pcap { r, linktype }
        } else if magic == PCAPNG_MAGIC {
            let r = PcapNgReader::new(input).map_err(corrupt)?;
            Reader::PcapNg {
                r,
                ifaces: Vec::new(),
            }
        } else {
            let hex: Vec<String> = magic[..n].iter().map(|b| format!("{b:02x}")).collect();
            return Err(CaptureError::NotACapture {
                path: path.to_path_buf(),
                magic: hex.join(" "),
            });
        };
        let pipe = path.as_os_str() == "-"
            || std::fs::metadata(path).is_ok_and(|m| {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_fifo()
            });
        Ok(FileSource {
            pipe,
            path: path.to_path_buf(),
            name: if path.as_os_str() == "-" {
                "standard input".into()
            } else {
                path.display().to_string()
            },
            reader,
            read: 0,
        })
    }

    /// The link type of a classic pcap file, or of the first pcapng interface seen so far.
    pub fn linktype(&self) -> Option<LinkType> {
        match &self.reader {
            Reader::Pcap { linktype, .. } => Some(*linktype),
            Reader::PcapNg { ifaces, .. } => ifaces.first().map(|i| i.linktype),
            Reader::Empty => None,
        }
    }

    fn corrupt(&self, reason: String) -> CaptureError {
        CaptureError::Corrupt {
            path: self.path.clone(),
            packets: self.read,
            reason,
        }
    }

    fn next_pcapng(&mut self) -> Result<Option<RawFrame>, CaptureError> {
        loop {
            let Reader::PcapNg { r, ifaces } = &mut self.reader else {
                return Ok(None);
            };
            let block = match r.next_block() {
                None => return Ok(None),
                Some(Err(e)) => return Err(self.corrupt(e.to_string())),
                Some(Ok(b)) => b,
            };
            match block {
                Block::SectionHeader(_) => ifaces.clear(),
                Block::InterfaceDescription(idb) => {
                    let mut iface = Iface {
                        linktype: LinkType(u32::from(idb.linktype)),
                        tsresol: 6,
                        tsoffset: 0,
                    };
                    for opt in &idb.options {
                        match opt {
                            IdbOption::IfTsResol(r) => iface.tsresol = *r,
                            IdbOption::IfTsOffset(o) => {
                                iface.tsoffset = i64::try_from(*o).unwrap_or(0);
                            }
                            _ => {}
                        }
                    }
                    ifaces.push(iface);
                }
                Block::EnhancedPacket(epb) => {
                    let Some(iface) = ifaces.get(epb.interface_id as usize).copied() else {
                        let reason =
                            format!("packet for undeclared interface {}", epb.interface_id);
                        return Err(self.corrupt(reason));
                    };
                    return Ok(Some(RawFrame {
                        ts: iface.ts(epb.timestamp),
                        linktype: iface.linktype,
                        iface: epb.interface_id,
                        orig_len: epb.original_len,
                        data: capped(&epb.data),
                    }));
                }
                Block::SimplePacket(spb) => {
                    let Some(linktype) = ifaces.first().map(|i| i.linktype) else {
                        return Err(self.corrupt("simple packet block before any interface".into()));
                    };
                    return Ok(Some(RawFrame {
                        ts: Ts(0),
                        linktype,
                        iface: 0,
                        orig_len: spb.original_len,
                        data: capped(&spb.data),
                    }));
                }
                _ => {}
            }
        }
    }
}

/// A packet block's bytes, at most `MAX_FRAME_BYTES` of them (pcap-file accepts blocks up to
/// its 8 MB buffer; a frame never holds more than a classic pcap record may keep).
fn capped(data: &[u8]) -> Vec<u8> {
    data[..data.len().min(MAX_FRAME_BYTES)].to_vec()
}

fn read_up_to(f: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

impl Source for FileSource {
    fn next_frame(&mut self) -> Result<Option<RawFrame>, CaptureError> {
        let frame = match &mut self.reader {
            Reader::Empty => None,
            Reader::Pcap { r, linktype } => {
                let lt = *linktype;
                match r.next_record() {
                    Ok(None) => None,
                    Err(reason) => return Err(self.corrupt(reason)),
                    Ok(Some(rec)) => Some(RawFrame {
                        ts: rec.ts,
                        linktype: lt,
                        iface: 0,
                        orig_len: rec.orig_len,
                        data: rec.data,
                    }),
                }
            }
            Reader::PcapNg { .. } => self.next_pcapng()?,
        };
        self.read += u64::from(frame.is_some());
        Ok(frame)
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn is_live(&self) -> bool {
        false
    }

    fn is_pipe(&self) -> bool {
        self.pipe
    }

    fn interfaces(&self) -> Vec<(String, LinkType)> {
        match &self.reader {
            Reader::Pcap { linktype, .. } => vec![(self.name.clone(), *linktype)],
            Reader::PcapNg { ifaces, .. } => ifaces
                .iter()
                .enumerate()
                .map(|(i, f)| (format!("if{i}"), f.linktype))
                .collect(),
            Reader::Empty => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic little-endian microsecond pcap of link type 1 holding one 3-byte record.
    fn one_record_pcap() -> Vec<u8> {
        let mut b = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&65535u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        for v in [7u32, 5, 3, 60] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&[1, 2, 3]);
        b
    }

    #[test]
    fn from_reader_reads_a_capture_held_in_memory() {
        let bytes: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(one_record_pcap()));
        let mut src = FileSource::from_reader(Path::new("memory.pcap"), bytes).unwrap();
        let frame = src.next_frame().unwrap().unwrap();
        assert_eq!(frame.data, vec![1, 2, 3]);
        assert_eq!(frame.orig_len, 60);
        assert_eq!(frame.ts, Ts(7_000_005_000));
        assert_eq!(src.linktype(), Some(LinkType(1)));
        assert!(src.next_frame().unwrap().is_none());
        assert_eq!(src.name(), "memory.pcap");
    }

    #[test]
    fn from_reader_names_the_input_in_its_errors() {
        let bytes: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(b"GIF89a".to_vec()));
        let Err(e) = FileSource::from_reader(Path::new("picture.gif"), bytes) else {
            panic!("a GIF opened as a capture");
        };
        let text = e.to_string();
        assert!(text.contains("picture.gif"), "{text}");
    }
}
