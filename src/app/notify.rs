//! systemd's notification protocol for `--headless` under a `Type=notify` unit: READY once the
//! capture is open, WATCHDOG and a STATUS line with the counters on every tick, STOPPING at the
//! end. Without `NOTIFY_SOCKET` (not started by systemd) every call does nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sd_notify::NotifyState;

use crate::engine::stats::Stats;

/// The service manager's socket, if this process was started with one.
pub struct Notifier {
    enabled: bool,
    /// A failed send is reported once, then the run goes on: supervision is lost, not capture.
    warned: AtomicBool,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` from the environment.
    pub fn from_env() -> Self {
        Self {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some(),
            warned: AtomicBool::new(false),
        }
    }

    /// How often systemd expects a WATCHDOG ping (`WatchdogSec=`), when it asks for them.
    pub fn watchdog(&self) -> Option<Duration> {
        if self.enabled {
            sd_notify::watchdog_enabled()
        } else {
            None
        }
    }

    /// The capture is open: the service is up.
    pub fn ready(&self, source: &str) {
        let status = format!("capturing on {source}");
        self.send(&[NotifyState::Ready, NotifyState::Status(&status)]);
    }

    /// The pipeline is alive: pings the watchdog and shows the counters in `systemctl status`.
    pub fn tick(&self, s: &Stats) {
        let status = status_line(s);
        self.send(&[NotifyState::Watchdog, NotifyState::Status(&status)]);
    }

    /// The capture is ending (a stop signal or the end of the configured duration).
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping]);
    }

    fn send(&self, states: &[NotifyState]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!("cannot notify systemd: {e}");
            }
        }
    }
}

/// `packets 1200, alerts 3, drops 0`: what `systemctl status nsm-tui` shows of a running sensor.
fn status_line(s: &Stats) -> String {
    let c = &s.capture;
    let drops = c.kernel_drops + c.if_drops + c.queue_drops + s.db_drops;
    format!(
        "packets {}, alerts {}, flows active {}, drops {drops}",
        s.decoder.pkts,
        s.alerts_total(),
        s.flow.active
    )
}
