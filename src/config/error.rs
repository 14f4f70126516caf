//! Configuration errors, and the rewriting of serde's terse messages into ones that name the
//! section and key and suggest the nearest valid key. Used on the main thread at startup.

use std::path::PathBuf;

/// Why the configuration could not be loaded. Every variant says where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config PATH` named a file that is not there.
    #[error("config file {} does not exist", .path.display())]
    NotFound { path: PathBuf },
    #[error("{}: cannot read config file: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bad syntax, unknown key, wrong type or out-of-range value in the file.
    #[error("{}:{line}: {message}", .path.display())]
    File {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// An environment variable that could not be parsed or is out of range. `value` is masked
    /// for variables that carry secrets.
    #[error("{var}={value:?}: {message}")]
    Env {
        var: &'static str,
        value: String,
        message: String,
    },
    /// A value out of range after all layers were applied (e.g. set by a command-line flag).
    #[error("[{section}] {key}: {message}")]
    Invalid {
        section: &'static str,
        key: String,
        message: String,
    },
}

/// Levenshtein distance, for "did you mean" hints; inputs are short key names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur.push(subst.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if close enough to be a plausible typo.
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The names serde quotes in backticks after "expected" (e.g. the known fields).
fn expected_names(msg: &str) -> Vec<&str> {
    let Some((_, tail)) = msg.split_once(", expected") else {
        return Vec::new();
    };
    tail.split('`').skip(1).step_by(2).collect()
}

/// Plain words for Rust type names that serde puts in its messages.
fn plain_expected(e: &str) -> String {
    match e.trim() {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative integer".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a map" => "a table".to_string(),
        s if s.starts_with("struct ") => "a table".to_string(),
        s => s.replace('`', "\""),
    }
}

/// Plain words for serde's description of the value found.
fn plain_found(f: &str) -> String {
    match f {
        "map" => "a table".to_string(),
        "sequence" => "an array".to_string(),
        f => f.replace('`', ""),
    }
}

/// How a key path is shown: `[sniffer] interface`, `[console.keys] quit`, or a bare top-level name.
pub(crate) fn location(path: &[String]) -> String {
    match path {
        [] => String::new(),
        [top] => top.clone(),
        [sections @ .., key] => format!("[{}] {key}", sections.join(".")),
    }
}

fn unknown_key(path: &[String], msg: &str) -> String {
    let name = msg.split('`').nth(1).unwrap_or_default();
    let known = expected_names(msg);
    let top_level = path.len() <= 1;
    let what = if top_level {
        format!("unknown section [{name}]")
    } else {
        let section = path[..path.len() - 1].join(".");
        format!("[{section}] unknown key \"{name}\"")
    };
    match suggest(name, &known) {
        Some(s) if top_level => format!("{what} (did you mean [{s}]?)"),
        Some(s) => format!("{what} (did you mean \"{s}\"?)"),
        None if known.is_empty() => what,
        None => format!("{what} (known: {})", known.join(", ")),
    }
}

/// Turns a serde/toml deserialization message at key `path` into a user-facing one.
pub(crate) fn describe(path: &[String], msg: &str) -> String {
    if msg.starts_with("unknown field `") {
        return unknown_key(path, msg);
    }
    let at = location(path);
    let body = if let Some(rest) = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))
    {
        match rest.rsplit_once(", expected ") {
            Some((found, expected)) => format!(
                "expected {}, found {}",
                plain_expected(expected),
                plain_found(found)
            ),
            None => rest.replace('`', "\""),
        }
    } else if let Some(rest) = msg.strip_prefix("unknown variant ") {
        format!("unknown value {}", rest.replace('`', "\""))
    } else {
        // toml's syntax errors span several lines ("invalid string\nexpected ...").
        msg.trim().replace('\n', "; ")
    };
    if at.is_empty() {
        body
    } else {
        format!("{at}: {body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("intrface", "interface"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", "abc"), 0);
    }

    #[test]
    fn suggest_rejects_far_words() {
        assert_eq!(
            suggest("intrface", &["interface", "snaplen"]),
            Some("interface")
        );
        assert_eq!(suggest("zzzzzz", &["interface", "snaplen"]), None);
    }

    #[test]
    fn describe_rewrites_serde_messages() {
        let p = vec!["response".to_string(), "dry_run".to_string()];
        assert_eq!(
            describe(&p, "invalid type: string \"yes\", expected a boolean"),
            "[response] dry_run: expected a boolean, found string \"yes\""
        );
        let p = vec!["sniffer".to_string(), "snaplen".to_string()];
        assert_eq!(
            describe(&p, "invalid value: integer `-1`, expected u32"),
            "[sniffer] snaplen: expected a non-negative integer, found integer -1"
        );
        let p = vec!["snifer".to_string()];
        assert_eq!(
            describe(
                &p,
                "unknown field `snifer`, expected `sniffer` or `detector`"
            ),
            "unknown section [snifer] (did you mean [sniffer]?)"
        );
    }
}
