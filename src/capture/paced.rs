//! Replay pacing: wraps a file source so frames come out at the capture's own speed, N times
//! faster, or as fast as possible, and can be paused.
//!
//! Called on the capture thread. `next_frame` sleeps (in short steps, watching the stop flag)
//! until a frame is due, so the console can replay a capture as if it were live.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{CaptureError, Source};
use crate::engine::frame::{LinkType, RawFrame};
use crate::engine::stats::CaptureStats;

/// The longest single sleep, so pause and stop are noticed quickly.
const STEP: Duration = Duration::from_millis(50);

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// The gaps between frames as captured.
    Original,
    /// Gaps divided by this factor (2.0 = twice as fast).
    Times(f64),
    /// No waiting at all.
    Fast,
}

impl Speed {
    fn factor(self) -> Option<f64> {
        match self {
            Speed::Original => Some(1.0),
            Speed::Times(f) if f.is_finite() && f > 0.0 => Some(f),
            Speed::Times(_) | Speed::Fast => None,
        }
    }
}

/// Pause and stop switches shared with the console.
#[derive(Debug, Default)]
pub struct Controls {
    pub paused: AtomicBool,
    pub stop: AtomicBool,
}

impl Controls {
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
    pub fn toggle_pause(&self) -> bool {
        !self.paused.fetch_xor(true, Ordering::Relaxed)
    }
}

/// A source replayed at a chosen speed.
pub struct PacedSource<S: Source> {
    inner: S,
    speed: Speed,
    controls: Arc<Controls>,
    /// Capture time of the first frame and the instant it was released (shifted by pauses).
    origin: Option<(i64, Instant)>,
    name: Option<String>,
}

impl<S: Source> PacedSource<S> {
    pub fn new(inner: S, speed: Speed, controls: Arc<Controls>) -> Self {
        Self {
            inner,
            speed,
            controls,
            origin: None,
            name: None,
        }
    }

    /// Show `name` instead of the inner source's name.
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Wait while paused; returns false when asked to stop.
    fn hold(&mut self) -> bool {
        let started = Instant::now();
        while self.controls.is_paused() {
            if self.controls.stop.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(STEP);
        }
        if let Some((_, at)) = &mut self.origin {
            *at += started.elapsed();
        }
        !self.controls.stop.load(Ordering::Relaxed)
    }

    /// Sleep until `frame_ns` is due; returns false when asked to stop.
    fn wait_for(&mut self, frame_ns: i64) -> bool {
        let Some(factor) = self.speed.factor() else {
            return true;
        };
        let (first, _) = *self.origin.get_or_insert((frame_ns, Instant::now()));
        // `as u64` saturates, so a huge gap waits "forever" rather than wrapping.
        let offset = Duration::from_nanos(((frame_ns - first).max(0) as f64 / factor) as u64);
        loop {
            if !self.hold() {
                return false;
            }
            let Some((_, at)) = self.origin else {
                return true;
            };
            let due = at + offset;
            let now = Instant::now();
            if now >= due {
                return true;
            }
            std::thread::sleep((due - now).min(STEP));
        }
    }
}

impl<S: Source> Source for PacedSource<S> {
    fn next_frame(&mut self) -> Result<Option<RawFrame>, CaptureError> {
        if !self.hold() {
            return Ok(None);
        }
        let Some(frame) = self.inner.next_frame()? else {
            return Ok(None);
        };
        if !self.wait_for(frame.ts.0) {
            return Ok(None);
        }
        Ok(Some(frame))
    }
    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.inner.name())
    }
    fn is_live(&self) -> bool {
        false
    }
    fn interfaces(&self) -> Vec<(String, LinkType)> {
        self.inner.interfaces()
    }
    fn stats(&mut self) -> CaptureStats {
        self.inner.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::frame::Ts;

    struct Frames(Vec<RawFrame>);
    impl Source for Frames {
        fn next_frame(&mut self) -> Result<Option<RawFrame>, CaptureError> {
            Ok(if self.0.is_empty() {
                None
            } else {
                Some(self.0.remove(0))
            })
        }
        fn name(&self) -> &str {
            "mem"
        }
        fn is_live(&self) -> bool {
            false
        }
        fn interfaces(&self) -> Vec<(String, LinkType)> {
            Vec::new()
        }
    }

    fn frames(gaps_ms: &[i64]) -> Frames {
        Frames(
            gaps_ms
                .iter()
                .map(|ms| RawFrame {
                    ts: Ts(ms * 1_000_000),
                    linktype: LinkType::ETHERNET,
                    iface: 0,
                    orig_len: 0,
                    data: Vec::new(),
                })
                .collect(),
        )
    }

    fn drain(mut s: impl Source) -> (usize, Duration) {
        let t = Instant::now();
        let mut n = 0;
        while let Ok(Some(_)) = s.next_frame() {
            n += 1;
        }
        (n, t.elapsed())
    }

    #[test]
    fn original_speed_keeps_the_gaps_and_fast_does_not_wait() {
        let c = Arc::new(Controls::default());
        let (n, took) = drain(PacedSource::new(
            frames(&[0, 100, 200]),
            Speed::Original,
            c.clone(),
        ));
        assert_eq!(n, 3);
        assert!(took >= Duration::from_millis(190), "{took:?}");
        let (n, took) = drain(PacedSource::new(
            frames(&[0, 100, 200]),
            Speed::Times(4.0),
            c.clone(),
        ));
        assert_eq!(n, 3);
        assert!(
            took >= Duration::from_millis(45) && took < Duration::from_millis(190),
            "{took:?}"
        );
        let (n, took) = drain(PacedSource::new(frames(&[0, 10_000]), Speed::Fast, c));
        assert_eq!(n, 2);
        assert!(took < Duration::from_millis(500), "{took:?}");
    }

    #[test]
    fn pause_holds_frames_and_stop_ends_the_source() {
        let c = Arc::new(Controls::default());
        let mut s = PacedSource::new(frames(&[0, 1]), Speed::Fast, c.clone());
        assert!(s.next_frame().is_ok_and(|f| f.is_some()));
        assert!(c.toggle_pause());
        let c2 = c.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            c2.stop.store(true, Ordering::Relaxed);
        });
        let started = Instant::now();
        assert!(s.next_frame().is_ok_and(|f| f.is_none()));
        assert!(started.elapsed() >= Duration::from_millis(140));
        let _ = t.join();
    }
}
