//! Printing the effective configuration without leaking credentials: the AbuseIPDB key, the
//! Slack webhook's path (which is the secret) and any credentials or query in the SIEM URL.
//! Called on the main thread (e.g. for `--print-config` and the startup log).

use super::model::Config;

/// `"****"` plus at most the last four characters, fewer for short secrets so that little of
/// the secret is ever shown.
#[must_use]
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let keep = (chars.len() / 4).min(4);
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("****{tail}")
}

/// Splits `url` into `scheme://`, authority, and the rest (path, query, fragment).
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let idx = url.find("://")? + 3;
    let (scheme, after) = url.split_at(idx);
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    Some((scheme, authority, rest))
}

/// Hides user:password in the authority and the whole query (tokens often travel there).
#[must_use]
pub fn mask_url_credentials(url: &str) -> String {
    let Some((scheme, authority, rest)) = split_url(url) else {
        return mask_secret(url);
    };
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("****@{host}"),
        None => authority.to_string(),
    };
    let rest = match rest.split_once('?') {
        Some((path, _)) => format!("{path}?****"),
        None => rest.to_string(),
    };
    format!("{scheme}{host}{rest}")
}

/// Keeps the webhook's host visible and masks its path, which is the credential.
#[must_use]
pub fn mask_url_path(url: &str) -> String {
    match split_url(url) {
        Some((scheme, authority, rest)) if !rest.is_empty() => {
            let auth = mask_url_credentials(&format!("{scheme}{authority}"));
            format!("{auth}/{}", mask_secret(rest.trim_start_matches('/')))
        }
        Some(_) => mask_url_credentials(url),
        None => mask_secret(url),
    }
}

impl Config {
    /// The configuration as TOML with every secret masked; safe to print or log.
    #[must_use]
    pub fn to_toml_masked(&self) -> String {
        let mut shown = self.clone();
        let i = &mut shown.integrations;
        i.abuseipdb_api_key = i.abuseipdb_api_key.as_deref().map(mask_secret);
        i.slack_webhook = i.slack_webhook.as_deref().map(mask_url_path);
        i.teams_webhook = i.teams_webhook.as_deref().map(mask_url_path);
        i.siem_url = i.siem_url.as_deref().map(mask_url_credentials);
        i.abuseipdb_base_url = mask_url_credentials(&i.abuseipdb_base_url);
        match toml::to_string(&shown) {
            Ok(text) => text,
            // Only non-UTF-8 paths can fail here; say so rather than print a partial config.
            Err(e) => format!("# the configuration cannot be shown as TOML: {e}\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_show_less() {
        assert_eq!(mask_secret("abc"), "****");
        assert_eq!(mask_secret("abcdefgh"), "****gh");
        assert_eq!(mask_secret("0123456789abcdefXYZW"), "****XYZW");
    }

    #[test]
    fn url_credentials_and_query_are_hidden() {
        assert_eq!(
            mask_url_credentials("https://user:pw@siem.example:8088/ingest?token=abc"),
            "https://****@siem.example:8088/ingest?****"
        );
        assert_eq!(
            mask_url_credentials("http://siem:514/x"),
            "http://siem:514/x"
        );
    }

    #[test]
    fn webhook_path_is_hidden() {
        let masked = mask_url_path("https://hooks.slack.com/services/T000/B000/SECRETSECRET");
        assert!(
            masked.starts_with("https://hooks.slack.com/****"),
            "{masked}"
        );
        assert!(!masked.contains("T000"), "{masked}");
    }
}
