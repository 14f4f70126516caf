//! A BPF filter over a capture file: libpcap compiles the expression (once per link type the
//! file holds) and `pcap_offline_filter` decides each frame, so `nsm-tui read FILE -f EXPR`
//! keeps what `tcpdump -r FILE EXPR` keeps. Runs on the capture thread.

use std::collections::HashMap;

use pcap::{BpfProgram, Capture, Linktype};

use super::file::FileSource;
use super::{CaptureError, Source};
use crate::engine::frame::{LinkType, RawFrame};
use crate::engine::stats::CaptureStats;

/// Ethernet: the link type an expression is first checked against when the file does not
/// say its own before its first packet (pcapng declares interfaces as it goes).
const ETHERNET: LinkType = LinkType(1);

/// A file source that passes on only the frames the filter accepts.
pub struct FilteredSource {
    inner: FileSource,
    filter: String,
    programs: HashMap<u32, BpfProgram>,
}

impl FilteredSource {
    /// Wraps `inner` with `filter`, compiled now for the file's link type so a bad
    /// expression is refused before any packet is read.
    ///
    /// # Errors
    /// `BadFilter` naming the expression and libpcap's reason.
    pub fn new(inner: FileSource, filter: &str) -> Result<FilteredSource, CaptureError> {
        let mut s = FilteredSource {
            filter: filter.to_string(),
            programs: HashMap::new(),
            inner,
        };
        let first = s.inner.linktype().unwrap_or(ETHERNET);
        s.program(first)?;
        Ok(s)
    }

    fn program(&mut self, lt: LinkType) -> Result<&BpfProgram, CaptureError> {
        if !self.programs.contains_key(&lt.0) {
            let bad = |e: pcap::Error| CaptureError::BadFilter {
                filter: self.filter.clone(),
                detail: format!("{e} (link type {})", lt.0),
            };
            let raw = i32::try_from(lt.0).map_err(|_| CaptureError::BadFilter {
                filter: self.filter.clone(),
                detail: format!("link type {} is out of libpcap's range", lt.0),
            })?;
            let dead = Capture::dead(Linktype(raw)).map_err(bad)?;
            let prog = dead.compile(&self.filter, true).map_err(bad)?;
            self.programs.insert(lt.0, prog);
        }
        self.programs
            .get(&lt.0)
            .ok_or_else(|| CaptureError::BadFilter {
                filter: self.filter.clone(),
                detail: "not compiled".into(),
            })
    }
}

impl Source for FilteredSource {
    fn next_frame(&mut self) -> Result<Option<RawFrame>, CaptureError> {
        while let Some(frame) = self.inner.next_frame()? {
            if self.program(frame.linktype)?.filter(&frame.data) {
                return Ok(Some(frame));
            }
        }
        Ok(None)
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn is_live(&self) -> bool {
        false
    }

    fn is_pipe(&self) -> bool {
        self.inner.is_pipe()
    }

    fn interfaces(&self) -> Vec<(String, LinkType)> {
        self.inner.interfaces()
    }

    fn stats(&mut self) -> CaptureStats {
        self.inner.stats()
    }
}
