//! The file layer: finding the config file, parsing it, and reporting problems with the file's
//! name and the line of the offending key. Runs once on the main thread at startup.
//!
//! Parsing goes through serde (`toml::from_str`) for the values; when that fails, the same text
//! is parsed with `toml_edit` only to find which key sits at the error's byte offset.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::{ImDocument, TableLike};

use super::error::{describe, ConfigError};
use super::model::Config;
use super::validate::Violation;

/// Where a config file is looked for when `--config` is not given, in order. Both are optional.
pub const DEFAULT_PATHS: [&str; 2] = ["nsm-tui.toml", "/etc/nsm-tui/config.toml"];

/// Reads the first config file that applies: `explicit` (which must exist), else the first of
/// `search` that exists. `Ok(None)` means no file: defaults apply.
///
/// # Errors
/// `NotFound` for a missing explicit file, `Read` when a file exists but cannot be read.
pub fn read_config_file(
    explicit: Option<&Path>,
    search: &[PathBuf],
) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let path = match explicit {
        Some(p) if !p.exists() => {
            return Err(ConfigError::NotFound {
                path: p.to_path_buf(),
            })
        }
        Some(p) => p.to_path_buf(),
        None => match search.iter().find(|p| p.exists()) {
            Some(p) => p.clone(),
            None => return Ok(None),
        },
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path, text))),
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

/// 1-based line number of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|r| r.contains(&offset) || (r.is_empty() && r.start == offset))
}

/// Fills `path` with the keys leading to whatever sits at byte `offset`, deepest first match.
fn path_at(table: &dyn TableLike, offset: usize, path: &mut Vec<String>) -> bool {
    for (name, item) in table.iter() {
        path.push(name.to_string());
        if let Some(sub) = item.as_table_like() {
            if path_at(sub, offset, path) {
                return true;
            }
        }
        let key_span = table.get_key_value(name).and_then(|(k, _)| k.span());
        if contains(key_span, offset) || contains(item.span(), offset) {
            return true;
        }
        path.pop();
    }
    false
}

/// Byte offset of the key at `keys` (e.g. `["console", "keys", "quit"]`), if it is in the file.
fn key_offset(doc: &ImDocument<&str>, keys: &[&str]) -> Option<usize> {
    let mut table: &dyn TableLike = doc.as_table();
    let (last, parents) = keys.split_last()?;
    for k in parents {
        table = table.get(k)?.as_table_like()?;
    }
    let (key, item) = table.get_key_value(last)?;
    key.span().or_else(|| item.span()).map(|r| r.start)
}

fn file_error(path: &Path, text: &str, offset: Option<usize>, message: String) -> ConfigError {
    ConfigError::File {
        path: path.to_path_buf(),
        line: offset.map_or(1, |o| line_of(text, o)),
        message,
    }
}

/// Parses `text` (the contents of `path`) over the defaults and range-checks the result.
///
/// # Errors
/// `ConfigError::File` naming `path`, the line, and the section and key at fault.
pub fn parse_file(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let config = match toml::from_str::<Config>(text) {
        Ok(c) => c,
        Err(e) => {
            let offset = e.span().map(|r| r.start);
            let mut keys = Vec::new();
            if let (Some(o), Ok(doc)) = (offset, ImDocument::parse(text)) {
                path_at(doc.as_table(), o, &mut keys);
            }
            return Err(file_error(path, text, offset, describe(&keys, e.message())));
        }
    };
    config
        .check()
        .map_err(|v| violation_error(path, text, &v))?;
    Ok(config)
}

fn violation_error(path: &Path, text: &str, v: &Violation) -> ConfigError {
    let mut keys = vec![v.section];
    keys.extend(v.key.split('.'));
    let offset = ImDocument::parse(text)
        .ok()
        .and_then(|doc| key_offset(&doc, &keys));
    let (section, key) = match v.key.rsplit_once('.') {
        Some((sub, k)) => (format!("{}.{sub}", v.section), k.to_string()),
        None => (v.section.to_string(), v.key.clone()),
    };
    file_error(
        path,
        text,
        offset,
        format!("[{section}] {key}: {}", v.message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_counts_newlines_before_offset() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(line_of("a", 99), 1);
    }

    #[test]
    fn path_at_finds_nested_keys() {
        let text = "[console]\nfps = 3\n[console.keys]\nquit = 4\n";
        let doc = ImDocument::parse(text).expect("valid toml");
        let offset = text.find('4').expect("present");
        let mut keys = Vec::new();
        assert!(path_at(doc.as_table(), offset, &mut keys));
        assert_eq!(keys, ["console", "keys", "quit"]);
        assert_eq!(key_offset(&doc, &["console", "fps"]), text.find("fps"));
    }
}
