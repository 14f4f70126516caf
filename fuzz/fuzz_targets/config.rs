//! Fuzz target for the configuration loader: the input is the text of a TOML config file,
//! parsed over the defaults and range-checked by `config::parse_file` as `--config` loads it.
//! A bad file must come back as an error naming a line inside the file, never a panic. Seeds:
//! the repository's `nsm-tui.example.toml` and the files in `fuzz/seeds/config`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nsm_tui::config::{parse_file, ConfigError};

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    match parse_file(Path::new("fuzz.toml"), text) {
        Ok(config) => {
            let _ = config.validate();
        }
        Err(ConfigError::File { line, .. }) => {
            assert!(
                line >= 1 && line <= text.lines().count().max(1) + 1,
                "line {line}"
            );
        }
        Err(_) => {}
    }
});
