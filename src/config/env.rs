//! The environment layer: variables named as in the original Python design, applied over the
//! file. Runs once on the main thread; the environment is passed in as a lookup function so
//! tests never touch the process environment.

use super::error::ConfigError;
use super::mask::mask_secret;
use super::model::Config;
use super::validate::non_negative;

/// How one variable is parsed into the config.
type Apply = fn(&mut Config, &str) -> Result<(), String>;

/// One recognised environment variable and the key it overrides.
pub struct EnvVar {
    pub name: &'static str,
    pub section: &'static str,
    pub key: &'static str,
    /// Its value is a credential and is masked in error messages.
    pub secret: bool,
    apply: Apply,
}

pub(crate) fn parse_bool(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err("expected true/false/1/0/yes/no".to_string()),
    }
}

fn parse_uint<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| "expected a non-negative integer".to_string())
}

fn parse_threshold(v: &str) -> Result<f64, String> {
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| "expected a number".to_string())?;
    non_negative(x)?;
    Ok(x)
}

/// Every variable read, in the order applied.
pub const ENV_VARS: &[EnvVar] = &[
    EnvVar {
        name: "NETWORK_INTERFACE",
        section: "sniffer",
        key: "interface",
        secret: false,
        apply: |c, v| {
            c.sniffer.interface = Some(v.to_string());
            Ok(())
        },
    },
    EnvVar {
        name: "CAPTURE_DURATION",
        section: "sniffer",
        key: "capture_duration",
        secret: false,
        apply: |c, v| {
            c.sniffer.capture_duration = parse_uint(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "PACKET_LIMIT",
        section: "sniffer",
        key: "packet_count_limit",
        secret: false,
        apply: |c, v| {
            c.sniffer.packet_count_limit = parse_uint(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "ANOMALY_THRESHOLD",
        section: "detector",
        key: "anomaly_threshold",
        secret: false,
        apply: |c, v| {
            c.detector.anomaly_threshold = parse_threshold(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "RESPONSE_THRESHOLD",
        section: "response",
        key: "response_threshold",
        secret: false,
        apply: |c, v| {
            c.response.response_threshold = parse_threshold(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "DRY_RUN",
        section: "response",
        key: "dry_run",
        secret: false,
        apply: |c, v| {
            c.response.dry_run = parse_bool(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "MAX_CONCURRENT_ACTIONS",
        section: "response",
        key: "max_concurrent_actions",
        secret: false,
        apply: |c, v| {
            c.response.max_concurrent_actions = parse_uint(v)?;
            Ok(())
        },
    },
    EnvVar {
        name: "SIEM_URL",
        section: "integrations",
        key: "siem_url",
        secret: true,
        apply: |c, v| {
            c.integrations.siem_url = Some(v.to_string());
            Ok(())
        },
    },
    EnvVar {
        name: "SLACK_WEBHOOK",
        section: "integrations",
        key: "slack_webhook",
        secret: true,
        apply: |c, v| {
            c.integrations.slack_webhook = Some(v.to_string());
            Ok(())
        },
    },
    EnvVar {
        name: "ABUSEIPDB_API_KEY",
        section: "integrations",
        key: "abuseipdb_api_key",
        secret: true,
        apply: |c, v| {
            c.integrations.abuseipdb_api_key = Some(v.to_string());
            Ok(())
        },
    },
    EnvVar {
        name: "ABUSEIPDB_BASE_URL",
        section: "integrations",
        key: "abuseipdb_base_url",
        secret: false,
        apply: |c, v| {
            c.integrations.abuseipdb_base_url = v.to_string();
            Ok(())
        },
    },
];

/// Applies every set, non-empty variable from `env` to `config`, checking each as it goes.
///
/// An empty variable counts as unset, as shells make `VAR=` easy to leave behind.
///
/// # Errors
/// `ConfigError::Env` naming the variable and its value (masked for secrets).
pub fn apply_env(
    config: &mut Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for var in ENV_VARS {
        let Some(value) = env(var.name).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let shown = if var.secret {
            mask_secret(&value)
        } else {
            value.clone()
        };
        let fail = |message: String| ConfigError::Env {
            var: var.name,
            value: shown.clone(),
            message,
        };
        (var.apply)(config, &value).map_err(&fail)?;
        if let Err(v) = config.check() {
            // The file layer was already checked, so a new violation of this key is ours.
            if v.section == var.section && v.key == var.key {
                return Err(fail(v.message));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_accept_the_documented_spellings() {
        for t in ["true", "1", "yes", "YES", " True "] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["false", "0", "no", "No"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        assert!(parse_bool("maybe").is_err());
    }

    #[test]
    fn thresholds_reject_negative_and_nan() {
        assert!(parse_threshold("-1").is_err());
        assert!(parse_threshold("NaN").is_err());
        assert_eq!(parse_threshold("3.5"), Ok(3.5));
    }
}
