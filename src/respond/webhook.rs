//! Notifications: Slack-format and Microsoft Teams webhooks and a generic JSON POST (an EVE
//! `alert`-like document) for a SIEM, sent by one dedicated thread from a bounded queue, with
//! time-outs and retries, so a slow or dead endpoint never holds up analysis or response.
//!
//! `notify` is called on the response worker and never blocks: when the queue is full the
//! notice is dropped and counted. The sender thread owns a small tokio runtime for reqwest.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Sender, TrySendError};
use serde::Serialize;

/// Notices waiting to be sent; each is a few hundred bytes.
pub const QUEUE: usize = 64;

/// Where notices go; unset targets are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    pub slack: Option<String>,
    pub teams: Option<String>,
    pub siem: Option<String>,
}

impl Targets {
    pub fn from_config(c: &crate::config::Config) -> Targets {
        let i = &c.integrations;
        Targets {
            slack: i.slack_webhook.clone(),
            teams: i.teams_webhook.clone(),
            siem: i.siem_url.clone(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.slack.is_none() && self.teams.is_none() && self.siem.is_none()
    }
}

/// One thing to tell people about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub title: String,
    pub text: String,
    /// Low, Medium, High, Critical.
    pub severity: String,
    /// The machine-readable document for the SIEM.
    pub event: serde_json::Value,
}

fn colour(sev: &str) -> &'static str {
    match sev {
        "Critical" => "8B0000",
        "High" => "D9534F",
        "Medium" => "F0AD4E",
        _ => "5BC0DE",
    }
}

/// The request bodies for every configured target: (url, JSON body).
pub fn bodies(t: &Targets, n: &Notice) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    if let Some(u) = &t.slack {
        out.push((
            u.clone(),
            serde_json::json!({
                "text": format!("*{}*\n{}", n.title, n.text),
                "attachments": [{ "color": format!("#{}", colour(&n.severity)), "text": n.text }],
            }),
        ));
    }
    if let Some(u) = &t.teams {
        out.push((
            u.clone(),
            serde_json::json!({
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": n.title,
                "themeColor": colour(&n.severity),
                "title": n.title,
                "text": n.text,
            }),
        ));
    }
    if let Some(u) = &t.siem {
        out.push((u.clone(), n.event.clone()));
    }
    out
}

/// Retry policy of one POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub timeout: Duration,
    pub first_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 3,
            timeout: Duration::from_secs(5),
            first_backoff: Duration::from_millis(500),
        }
    }
}

/// Counters the status line and tests read.
#[derive(Debug, Default)]
pub struct NotifyStats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

pub struct Notifier {
    tx: Option<Sender<Notice>>,
    handle: Option<JoinHandle<()>>,
    pub stats: Arc<NotifyStats>,
}

impl Notifier {
    /// Starts the sender thread; `None` when no target is configured.
    pub fn spawn(targets: Targets, retry: Retry) -> Option<Notifier> {
        if targets.is_empty() {
            return None;
        }
        let (tx, rx) = bounded::<Notice>(QUEUE);
        let stats = Arc::new(NotifyStats::default());
        let st = stats.clone();
        let handle = std::thread::Builder::new()
            .name("nsm-notify".into())
            .spawn(move || sender(&targets, retry, &rx, &st))
            .ok()?;
        Some(Notifier {
            tx: Some(tx),
            handle: Some(handle),
            stats,
        })
    }

    /// Queues a notice; never blocks. Returns false when it was dropped.
    pub fn notify(&self, n: Notice) -> bool {
        match self.tx.as_ref().map(|t| t.try_send(n)) {
            Some(Ok(())) => true,
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Sends what is queued, then stops the thread.
    pub fn finish(mut self) {
        self.close();
    }

    fn close(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.close();
    }
}

fn sender(
    targets: &Targets,
    retry: Retry,
    rx: &crossbeam_channel::Receiver<Notice>,
    stats: &NotifyStats,
) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let Ok(client) = reqwest::Client::builder().timeout(retry.timeout).build() else {
        return;
    };
    while let Ok(n) = rx.recv() {
        for (url, body) in bodies(targets, &n) {
            let ok = rt.block_on(post(&client, &url, &body, retry));
            let c = if ok { &stats.sent } else { &stats.failed };
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// POSTs `body`, retrying connection errors, time-outs, 429 and 5xx with doubling back-off.
async fn post(client: &reqwest::Client, url: &str, body: &serde_json::Value, retry: Retry) -> bool {
    let mut backoff = retry.first_backoff;
    for attempt in 1..=retry.attempts.max(1) {
        let res = client.post(url).json(body).send().await;
        let retryable = match res {
            Ok(r) if r.status().is_success() => return true,
            Ok(r) => r.status().is_server_error() || r.status().as_u16() == 429,
            Err(_) => true,
        };
        if !retryable || attempt == retry.attempts {
            break;
        }
        tokio::time::sleep(backoff).await;
        backoff = backoff.saturating_mul(2);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_per_target() {
        let t = Targets {
            slack: Some("http://s".into()),
            teams: Some("http://t".into()),
            siem: None,
        };
        let n = Notice {
            title: "Blocked 198.51.100.2".into(),
            text: "port_scan".into(),
            severity: "High".into(),
            event: serde_json::json!({"event_type": "alert"}),
        };
        let b = bodies(&t, &n);
        assert_eq!(b.len(), 2);
        assert!(b[0].1["text"]
            .as_str()
            .unwrap()
            .contains("Blocked 198.51.100.2"));
        assert_eq!(b[1].1["@type"], "MessageCard");
        assert_eq!(b[1].1["themeColor"], "D9534F");
        assert!(Notifier::spawn(Targets::default(), Retry::default()).is_none());
    }
}
