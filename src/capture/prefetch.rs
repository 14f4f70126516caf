//! Reading a pipe (standard input, a FIFO) on a thread of its own, so that the capture thread
//! can wait for the next frame with a time-out: when the writer pauses, the frames read so far
//! go to the detectors instead of waiting in a half-full batch for the writer to go on.
//!
//! Started by the capture thread for a source whose `is_pipe` is true; the reader thread ends
//! at the end of the input, at an error, or when the capture thread goes away.

use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};

use super::{CaptureError, Source};
use crate::engine::frame::{LinkType, RawFrame};

/// Frames read ahead, at most.
const AHEAD: usize = 1024;

/// What waiting for the next frame gave.
pub enum Next {
    Frame(RawFrame),
    /// Nothing within the wait; the input goes on.
    Idle,
    End,
}

/// A source read on its own thread.
pub struct Prefetch {
    rx: Receiver<Result<Option<RawFrame>, CaptureError>>,
    name: String,
    interfaces: Vec<(String, LinkType)>,
    ended: bool,
}

impl Prefetch {
    pub fn start(mut src: Box<dyn Source>) -> Result<Prefetch, CaptureError> {
        let name = src.name().to_string();
        let interfaces = src.interfaces();
        let (tx, rx) = bounded(AHEAD);
        std::thread::Builder::new()
            .name("pipe-reader".into())
            .spawn(move || loop {
                let next = src.next_frame();
                let last = !matches!(next, Ok(Some(_)));
                if tx.send(next).is_err() || last {
                    break;
                }
            })
            .map_err(|source| CaptureError::Open {
                path: name.clone().into(),
                source,
            })?;
        Ok(Prefetch {
            rx,
            name,
            interfaces,
            ended: false,
        })
    }

    /// The next frame, waiting at most `wait` for it.
    pub fn next_within(&mut self, wait: Duration) -> Result<Next, CaptureError> {
        if self.ended {
            return Ok(Next::End);
        }
        match self.rx.recv_timeout(wait) {
            Ok(Ok(Some(f))) => Ok(Next::Frame(f)),
            Ok(Ok(None)) | Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Ok(Next::End)
            }
            Ok(Err(e)) => {
                self.ended = true;
                Err(e)
            }
            Err(RecvTimeoutError::Timeout) => Ok(Next::Idle),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn interfaces(&self) -> &[(String, LinkType)] {
        &self.interfaces
    }
}
