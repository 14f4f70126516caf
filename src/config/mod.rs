//! Configuration: defaults, overlaid by a TOML file, then by environment variables. The binary
//! applies its command-line flags last by mutating the returned [`Config`] and calling
//! [`Config::validate`], giving the precedence CLI > env > file > defaults.
//!
//! Called once on the main thread at startup, before any other thread exists; it blocks only on
//! reading the config file. Every error names where the bad value came from: the file and line
//! with the section and key, or the environment variable and its value.

pub mod account;
mod env;
mod error;
mod load;
mod mask;
mod model;
mod validate;

use std::path::{Path, PathBuf};

pub use env::{EnvVar, ENV_VARS};
pub use error::ConfigError;
pub use load::{parse_file, read_config_file, DEFAULT_PATHS};
pub use mask::{mask_secret, mask_url_credentials, mask_url_path};
pub use model::{
    ActionsConfig, Config, ConsoleConfig, DetectorConfig, FirewallType, GeoipConfig,
    IntegrationsConfig, OutputConfig, ResponseConfig, SnifferConfig, StorageConfig,
    ABUSEIPDB_DEFAULT_URL, DATA_DIR,
};
pub use validate::Violation;

/// The loaded configuration and the file it came from (`None`: no file, defaults + env).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub source: Option<PathBuf>,
}

/// Loads defaults < file < environment. The file is `explicit` if given (it must exist), else
/// the first of [`DEFAULT_PATHS`] that exists, else none.
///
/// # Errors
/// See [`ConfigError`]: a missing explicit file, an unreadable file, a bad key or value in the
/// file, or a bad environment variable.
pub fn load(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    let search: Vec<PathBuf> = DEFAULT_PATHS.iter().map(PathBuf::from).collect();
    load_from(explicit, &search, env)
}

/// [`load`] with the default locations given explicitly, so tests need not depend on the
/// working directory or `/etc`.
///
/// # Errors
/// As for [`load`].
pub fn load_from(
    explicit: Option<&Path>,
    search: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigError> {
    let (mut config, source) = match read_config_file(explicit, search)? {
        Some((path, text)) => (parse_file(&path, &text)?, Some(path)),
        None => (Config::default(), None),
    };
    env::apply_env(&mut config, env)?;
    config.validate()?;
    Ok(Loaded { config, source })
}

/// Reads from the real process environment; what the binary passes to [`load`].
#[must_use]
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Config {
    /// [`Config::check`] as a [`ConfigError`], for use after the command-line layer.
    ///
    /// # Errors
    /// `ConfigError::Invalid` naming the section and key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check().map_err(|v| ConfigError::Invalid {
            section: v.section,
            key: v.key,
            message: v.message,
        })
    }
}
