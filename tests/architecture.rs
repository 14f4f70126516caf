//! The shape of the source, checked: the module graph of ARCHITECTURE.md (no module imports one
//! above it), and an engine free of IO and thread plumbing. Reads every `.rs` file under `src/`,
//! expands `use` items (braces included) and every inline path, with comments removed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may use only modules of a lower rank (and itself).
/// A new top-level module must be given a rank here and a paragraph in ARCHITECTURE.md.
const RANKS: &[(&str, u8)] = &[
    ("engine", 0),
    ("config", 1),
    ("synth", 1),
    ("metrics", 1),
    ("capture", 2),
    ("store", 2),
    ("enrich", 3),
    ("output", 4),
    ("pipeline", 5),
    ("respond", 6),
    ("tui", 7),
    ("app", 8),
];

/// Paths the engine must not name: files, sockets, processes, clocks, threads, locks, the
/// environment, databases, capture, HTTP, terminals, GeoIP files.
const ENGINE_FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "std::net::UdpSocket",
    "std::os",
    "std::process",
    "std::time::Instant",
    "std::time::SystemTime",
    "std::thread",
    "std::env",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "std::sync::Mutex",
    "std::sync::RwLock",
    "std::sync::Condvar",
    "std::sync::Barrier",
    "std::sync::mpsc",
    "std::sync::atomic",
    "std::sync::OnceLock",
    "std::sync::LazyLock",
    "rusqlite",
    "pcap",
    "pcap_file",
    "reqwest",
    "tokio",
    "ratatui",
    "crossterm",
    "maxminddb",
    "crossbeam_channel",
    "signal_hook",
    "rustix",
    "libc",
    "gag",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("reading src").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The source without comments (line and block) and without the contents of string literals.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'"' {
            // A raw string's hashes are not tracked: none of ours holds a quote and a path.
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('"', '\n'); lifetimes ('a) pass through.
            let end = b[i + 1..]
                .iter()
                .skip(1)
                .position(|&c| c == b'\'')
                .map_or(b.len(), |p| i + 2 + p + 1);
            i = end;
            out.push_str("' '");
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Expands one `use` tree (`a::{b, c::{d, e}}`) into full paths.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let close = tree.rfind('}').unwrap_or(tree.len());
        let inner = &tree[open + 1..close];
        let base = join(prefix, head);
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&base, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&base, &inner[start..], out);
    } else if !tree.is_empty() {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        let path = path.strip_suffix("::self").unwrap_or(path);
        if path != "self" {
            out.push(join(prefix, path));
        } else {
            out.push(prefix.to_string());
        }
    }
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}::{rest}"),
    }
}

/// Every path a file names: `use` items expanded, then inline `a::b::c` paths.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(pos) = find_use(rest) {
        let after = &rest[pos + 4..];
        let end = after.find(';').unwrap_or(after.len());
        expand("", &after[..end], &mut out);
        rest = &after[end..];
    }
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let starts = (c.is_ascii_alphabetic() || c == b'_')
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if starts {
            let mut j = i;
            while j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b':')
            {
                j += 1;
            }
            let p = code[i..j].trim_end_matches(':');
            if p.contains("::") {
                out.push(p.to_string());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// The next `use` keyword at the start of an item (after `;`, `{`, `}`, a newline or `pub`).
fn find_use(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(p) = s[from..].find("use ") {
        let at = from + p;
        let before = s[..at].trim_end();
        let ok = at == 0
            || before.is_empty()
            || before.ends_with([';', '{', '}', ']'])
            || before.ends_with("pub")
            || before.ends_with(')');
        if ok && (at == 0 || !b[at - 1].is_ascii_alphanumeric() && b[at - 1] != b'_') {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

fn rank(module: &str) -> Option<u8> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// The top-level module a file under `src/` belongs to (`None` for lib.rs and main.rs).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

fn sources() -> (PathBuf, Vec<PathBuf>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    assert!(files.len() > 50, "only {} source files found", files.len());
    (src, files)
}

#[test]
fn every_top_level_module_has_a_rank() {
    let (src, _) = sources();
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("reading lib.rs");
    let declared: Vec<String> = strip(&lib)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').trim().to_string())
        .collect();
    assert!(declared.len() >= 8, "{declared:?}");
    let missing: Vec<&String> = declared.iter().filter(|m| rank(m).is_none()).collect();
    assert!(
        missing.is_empty(),
        "modules without a layer in tests/architecture.rs: {missing:?}"
    );
    let doc = std::fs::read_to_string(src.join("../ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let undocumented: Vec<&String> = declared
        .iter()
        .filter(|m| !doc.contains(&format!("`{m}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "modules ARCHITECTURE.md does not describe: {undocumented:?}"
    );
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let (src, files) = sources();
    let mut bad = BTreeSet::new();
    let mut edges = BTreeSet::new();
    for f in &files {
        let code = strip(&std::fs::read_to_string(f).expect("reading a source file"));
        let Some(module) = module_of(&src, f) else {
            if f.ends_with("main.rs") {
                for p in paths(&code) {
                    if let Some(rest) = p.strip_prefix("nsm_tui::") {
                        let target = rest.split("::").next().unwrap_or(rest);
                        if target != "app" {
                            bad.insert(format!("{}: main uses nsm_tui::{target}", f.display()));
                        }
                    }
                }
            }
            continue;
        };
        let mine = rank(&module).unwrap_or(u8::MAX);
        let top_file = f.parent() == Some(src.as_path()) || f.ends_with(format!("{module}/mod.rs"));
        for p in paths(&code) {
            let target = if let Some(rest) = p.strip_prefix("crate::") {
                rest.split("::").next().unwrap_or(rest)
            } else if let Some(rest) = p.strip_prefix("super::").filter(|_| top_file) {
                // `super::` from a top-level module's own file is the crate root.
                rest.split("::").next().unwrap_or(rest)
            } else {
                continue;
            };
            if target == module || target == "self" || target.is_empty() {
                continue;
            }
            let Some(theirs) = rank(target) else {
                continue;
            };
            edges.insert((module.clone(), target.to_string()));
            if theirs >= mine {
                bad.insert(format!(
                    "{}: {module} (layer {mine}) uses crate::{target} (layer {theirs})",
                    f.strip_prefix(&src).unwrap_or(f).display()
                ));
            }
        }
    }
    assert!(
        edges.len() > 10,
        "the scan found only {} module edges: {edges:?}",
        edges.len()
    );
    assert!(
        bad.is_empty(),
        "imports that go up the module graph of ARCHITECTURE.md:\n{}",
        bad.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn engine_names_no_io_and_no_thread_plumbing() {
    let (src, files) = sources();
    let engine: Vec<&PathBuf> = files
        .iter()
        .filter(|f| module_of(&src, f).as_deref() == Some("engine"))
        .collect();
    assert!(
        engine.len() > 20,
        "only {} engine files found",
        engine.len()
    );
    let mut found = BTreeSet::new();
    for f in engine {
        let code = strip(&std::fs::read_to_string(f).expect("reading an engine file"));
        for p in paths(&code) {
            let p = p.strip_prefix("::").unwrap_or(&p);
            for bad in ENGINE_FORBIDDEN {
                if p == *bad || p.starts_with(&format!("{bad}::")) {
                    found.insert(format!("{}: {p}", f.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "IO or thread plumbing in the engine:\n{}",
        found.into_iter().collect::<Vec<_>>().join("\n")
    );
}

/// SQL statements in string literals of `code` (before its test module): literals that open
/// with an SQL verb.
fn sql_literals(code: &str) -> Vec<String> {
    const VERBS: &[&str] = &[
        "SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "PRAGMA ", "BEGIN", "COMMIT",
        "ROLLBACK", "DROP ", "ALTER ",
    ];
    let code = code.split("#[cfg(test)]").next().unwrap_or(code);
    code.split('"')
        .skip(1)
        .step_by(2)
        .filter(|lit| VERBS.iter().any(|v| lit.trim_start().starts_with(v)))
        .map(|lit| lit.chars().take(60).collect())
        .collect()
}

#[test]
fn every_sql_statement_lives_in_the_store() {
    let (src, files) = sources();
    let mut found = BTreeSet::new();
    let mut in_store = 0;
    for f in &files {
        let module = module_of(&src, f);
        // The engine cannot reach a database (above); synth writes attack payloads.
        if matches!(module.as_deref(), Some("engine" | "synth")) {
            continue;
        }
        let text = std::fs::read_to_string(f).expect("reading a source file");
        let sql = sql_literals(&text);
        if module.as_deref() == Some("store") {
            in_store += sql.len();
            continue;
        }
        for lit in sql {
            found.insert(format!(
                "{}: \"{lit}…\"",
                f.strip_prefix(&src).unwrap_or(f).display()
            ));
        }
    }
    assert!(
        in_store > 30,
        "only {in_store} statements found in the store"
    );
    assert!(
        found.is_empty(),
        "SQL outside src/store (give the store a typed function):\n{}",
        found.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_scanner_sees_what_it_must() {
    let code = strip(
        "use std::{fs, io::{self, Write}};\nuse crate::tui::block as b; // crate::app\n\
         fn f() { let s = \"crate::app\"; crate::respond::x(); std::sync::Mutex::new(1); }",
    );
    let p = paths(&code);
    for want in [
        "std::fs",
        "std::io",
        "std::io::Write",
        "crate::tui::block",
        "crate::respond::x",
        "std::sync::Mutex::new",
    ] {
        assert!(p.iter().any(|x| x == want), "{want} missing from {p:?}");
    }
    assert!(!p.iter().any(|x| x.starts_with("crate::app")), "{p:?}");
}
