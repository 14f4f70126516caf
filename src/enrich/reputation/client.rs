//! The AbuseIPDB v2 `check` call: one GET per address, the JSON answer turned into a
//! [`Report`], and every failure sorted into what the caller should do about it (stop, back
//! off, skip).
//!
//! Runs on the reputation worker's tokio runtime. The API key travels only in the `Key`
//! header; it never appears in an error, a log line or `Debug` output.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;

/// What AbuseIPDB says about one address: the report as the cache keeps it.
pub use crate::store::reputation_cache::Report;

/// The largest answer read. AbuseIPDB's `check` answers are well under a few KiB; a larger
/// body is refused unread rather than held in memory or written to the cache.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Longest ISP or usage-type text kept from an answer (the rest is cut).
const MAX_FIELD_CHARS: usize = 200;

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("AbuseIPDB rejected the API key (HTTP {status}): {detail}")]
    Unauthorized { status: u16, detail: String },
    #[error("AbuseIPDB rate limit reached (HTTP 429), retry after {retry_after:?}")]
    RateLimited { retry_after: Option<Duration> },
    #[error("AbuseIPDB did not answer within {0:?}")]
    Timeout(Duration),
    #[error("AbuseIPDB answered HTTP {status}: {detail}")]
    Http { status: u16, detail: String },
    #[error("AbuseIPDB sent a response nsm-tui cannot read: {0}")]
    Malformed(String),
    #[error("cannot reach AbuseIPDB: {0}")]
    Network(String),
}

impl CheckError {
    /// Worth trying again later (after a back-off).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CheckError::RateLimited { .. } | CheckError::Timeout(_) | CheckError::Network(_)
        ) || matches!(self, CheckError::Http { status, .. } if *status >= 500)
    }
}

#[derive(Deserialize)]
struct Envelope {
    data: Data,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    abuse_confidence_score: u8,
    #[serde(default)]
    total_reports: u64,
    isp: Option<String>,
    usage_type: Option<String>,
    country_code: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    detail: String,
}

/// An HTTP client bound to one API root and key.
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
    timeout: Duration,
    max_age_days: u32,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("key", &"<hidden>")
            .finish_non_exhaustive()
    }
}

impl Client {
    /// `base` is the API root (`https://api.abuseipdb.com/api/v2`); requests go to
    /// `{base}/check`.
    ///
    /// Redirects are never followed: the key header would otherwise travel to whatever host
    /// the answer names, and the API has no reason to redirect a `check` call.
    pub fn new(base: &str, key: &str, timeout: Duration) -> Result<Client, CheckError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("nsm-tui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CheckError::Network(e.without_url().to_string()))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            timeout,
            max_age_days: 90,
        })
    }

    /// `GET {base}/check?ipAddress=…&maxAgeInDays=90`.
    pub async fn check(&self, ip: IpAddr) -> Result<Report, CheckError> {
        let url = format!("{}/check", self.base);
        let resp = self
            .http
            .get(&url)
            .query(&[
                ("ipAddress", ip.to_string()),
                ("maxAgeInDays", self.max_age_days.to_string()),
            ])
            .header("Key", &self.key)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let body = self.read_capped(resp).await?;
        match status {
            s if s.is_success() => parse_report(ip, &body),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(CheckError::Unauthorized {
                status: status.as_u16(),
                detail: error_detail(&body),
            }),
            StatusCode::TOO_MANY_REQUESTS => Err(CheckError::RateLimited { retry_after }),
            s => Err(CheckError::Http {
                status: s.as_u16(),
                detail: error_detail(&body),
            }),
        }
    }

    /// The body, refused once it passes [`MAX_ANSWER_BYTES`] (by its announced length or by
    /// what arrives), so a hostile or broken server cannot make the client hold it.
    async fn read_capped(&self, mut resp: reqwest::Response) -> Result<String, CheckError> {
        let too_big = || {
            CheckError::Malformed(format!(
                "answer larger than {MAX_ANSWER_BYTES} bytes refused"
            ))
        };
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_big());
        }
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(e))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn transport_error(&self, e: reqwest::Error) -> CheckError {
        if e.is_timeout() {
            CheckError::Timeout(self.timeout)
        } else if e.is_decode() || e.is_body() {
            CheckError::Malformed(e.without_url().to_string())
        } else {
            // The URL holds only the base and the address, but leave it out all the same.
            CheckError::Network(e.without_url().to_string())
        }
    }
}

/// The report in `body`; only the parsed fields are kept (`raw` holds them as JSON, not the
/// answer as received, so the cache never stores more than a few hundred bytes a row).
fn parse_report(ip: IpAddr, body: &str) -> Result<Report, CheckError> {
    let env: Envelope = serde_json::from_str(body).map_err(|e| {
        let start: String = body.chars().take(80).collect();
        CheckError::Malformed(format!("{e} (body starts {start:?})"))
    })?;
    let d = env.data;
    if d.abuse_confidence_score > 100 {
        return Err(CheckError::Malformed(format!(
            "abuseConfidenceScore {} is above 100",
            d.abuse_confidence_score
        )));
    }
    let cut = |s: Option<String>, n: usize| s.map(|s| s.chars().take(n).collect::<String>());
    let (isp, usage_type) = (
        cut(d.isp, MAX_FIELD_CHARS),
        cut(d.usage_type, MAX_FIELD_CHARS),
    );
    let country_code = cut(d.country_code, 8);
    let raw = serde_json::json!({
        "abuseConfidenceScore": d.abuse_confidence_score,
        "totalReports": d.total_reports,
        "isp": isp,
        "usageType": usage_type,
        "countryCode": country_code,
    })
    .to_string();
    Ok(Report {
        ip,
        score: d.abuse_confidence_score,
        total_reports: d.total_reports,
        isp,
        usage_type,
        country_code,
        raw,
    })
}

/// The `detail` of the API's `{"errors": [{"detail": …}]}`, or the start of the body.
fn error_detail(body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) if !b.errors.is_empty() => b
            .errors
            .into_iter()
            .map(|e| e.detail)
            .collect::<Vec<_>>()
            .join("; "),
        _ => body.chars().take(120).collect(),
    }
}

/// `Retry-After` in seconds (AbuseIPDB sends seconds; an HTTP date is not expected).
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    h.get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_answer_and_rejects_garbage() {
        let ip: IpAddr = "118.25.6.39".parse().unwrap();
        let body = r#"{"data":{"ipAddress":"118.25.6.39","isPublic":true,"ipVersion":4,
            "isWhitelisted":false,"abuseConfidenceScore":100,"countryCode":"CN",
            "usageType":"Data Center/Web Hosting/Transit","isp":"Tencent Cloud Computing",
            "domain":"tencent.com","hostnames":[],"totalReports":1,"numDistinctUsers":1,
            "lastReportedAt":"2018-12-20T20:55:14+00:00"}}"#;
        let r = parse_report(ip, body).unwrap();
        assert_eq!(r.score, 100);
        assert_eq!(r.total_reports, 1);
        assert_eq!(
            r.usage_type.as_deref(),
            Some("Data Center/Web Hosting/Transit")
        );
        assert!(matches!(
            parse_report(ip, "{\"data\":"),
            Err(CheckError::Malformed(_))
        ));
        assert_eq!(
            error_detail(r#"{"errors":[{"detail":"Authentication failed.","status":401}]}"#),
            "Authentication failed."
        );
    }
}
