//! Signature files: the JSON format, validation with errors that name file, entry, id and field,
//! and loading a directory through an injected `RuleFiles` reader (the engine does no IO itself).
//!
//! Called at start-up and on reload (SIGHUP) by whichever thread builds the pipeline. A bad entry
//! or file is skipped and reported; the rest still loads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use regex::bytes::RegexBuilder;
use serde_json::{Map, Value};

use super::{literal, Buffer, ProtoFilter, Signature, SignatureSet};
use crate::engine::alert::{RuleId, Severity};
use crate::engine::detect::builtin::FIRST_BUILTIN_ID;

/// Compiled-program size limit per signature: generous for real rules, bounded for hostile ones.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Where signature files come from: a directory listing and file contents. The pipeline passes
/// one over the real filesystem (`detectors::FsRuleFiles`); tests pass in-memory files.
pub trait RuleFiles {
    /// Every file directly inside `dir`.
    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, String>;
    fn read(&self, path: &Path) -> Result<String, String>;
}

/// Why a signature file or entry was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("{dir}: cannot list signature files: {message}")]
    List { dir: String, message: String },
    #[error("{file}: cannot read: {message}")]
    Read { file: String, message: String },
    #[error("{file}: line {line}, column {column}: invalid JSON: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: expected a JSON list of signatures, found {found}")]
    NotAList { file: String, found: String },
    #[error("{file}: entry [{index}]{}: {}{problem}", id_note(*.id), field_note(.field))]
    Entry {
        file: String,
        index: usize,
        id: Option<u64>,
        field: Option<&'static str>,
        problem: String,
    },
    #[error(
        "{file}: entry [{index}] (signature_id {id}): duplicate signature_id, already defined in {first_file} entry [{first_index}]"
    )]
    Duplicate {
        file: String,
        index: usize,
        id: u64,
        first_file: String,
        first_index: usize,
    },
}

fn id_note(id: Option<u64>) -> String {
    id.map_or_else(String::new, |id| format!(" (signature_id {id})"))
}

fn field_note(field: &Option<&'static str>) -> String {
    field.map_or_else(String::new, |f| format!("field \"{f}\": "))
}

/// A JSON value as an error message quotes it, shortened.
fn quote(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

impl SignatureSet {
    /// Load every `*.json` file of `dir`, in name order.
    pub fn load_dir(dir: &Path, files: &dyn RuleFiles) -> (SignatureSet, Vec<SignatureError>) {
        let mut paths = match files.list(dir) {
            Ok(p) => p,
            Err(message) => {
                return (
                    SignatureSet::new(Vec::new()),
                    vec![SignatureError::List {
                        dir: dir.display().to_string(),
                        message,
                    }],
                )
            }
        };
        paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
        paths.sort();
        load_paths(&paths, files)
    }

    /// Load one signature file.
    pub fn load_file(path: &Path, files: &dyn RuleFiles) -> (SignatureSet, Vec<SignatureError>) {
        load_paths(&[path.to_path_buf()], files)
    }

    /// Build a set from (file name, JSON text) pairs, in order.
    pub fn from_sources(sources: &[(String, String)]) -> (SignatureSet, Vec<SignatureError>) {
        let mut b = Builder::default();
        for (name, text) in sources {
            b.file(name, text);
        }
        b.finish()
    }
}

fn load_paths(paths: &[PathBuf], files: &dyn RuleFiles) -> (SignatureSet, Vec<SignatureError>) {
    let mut b = Builder::default();
    for p in paths {
        let name = p.display().to_string();
        match files.read(p) {
            Ok(text) => b.file(&name, &text),
            Err(message) => b.errors.push(SignatureError::Read {
                file: name,
                message,
            }),
        }
    }
    b.finish()
}

#[derive(Default)]
struct Builder {
    sigs: Vec<Signature>,
    errors: Vec<SignatureError>,
    seen: HashMap<u64, (String, usize)>,
}

impl Builder {
    fn file(&mut self, name: &str, text: &str) {
        let list = match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(list)) => list,
            Ok(other) => {
                let found = quote(&other);
                return self.errors.push(SignatureError::NotAList {
                    file: name.into(),
                    found,
                });
            }
            Err(e) => {
                let (line, column, message) = (e.line(), e.column(), e.to_string());
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_string();
                return self.errors.push(SignatureError::Json {
                    file: name.into(),
                    line,
                    column,
                    message,
                });
            }
        };
        for (index, entry) in list.iter().enumerate() {
            match parse_entry(name, index, entry) {
                Ok(sig) => self.add(sig),
                Err(e) => self.errors.push(e),
            }
        }
    }

    fn add(&mut self, sig: Signature) {
        if let Some((first_file, first_index)) = self.seen.get(&sig.id.0) {
            return self.errors.push(SignatureError::Duplicate {
                file: sig.file.to_string(),
                index: sig.index,
                id: sig.id.0,
                first_file: first_file.clone(),
                first_index: *first_index,
            });
        }
        self.seen
            .insert(sig.id.0, (sig.file.to_string(), sig.index));
        self.sigs.push(sig);
    }

    fn finish(self) -> (SignatureSet, Vec<SignatureError>) {
        (SignatureSet::new(self.sigs), self.errors)
    }
}

/// Reads fields of one entry, building errors that say where.
struct Entry<'a> {
    file: &'a str,
    index: usize,
    id: Option<u64>,
    obj: &'a Map<String, Value>,
}

impl Entry<'_> {
    fn err(&self, field: Option<&'static str>, problem: String) -> SignatureError {
        SignatureError::Entry {
            file: self.file.into(),
            index: self.index,
            id: self.id,
            field,
            problem,
        }
    }
    fn required(&self, field: &'static str) -> Result<&Value, SignatureError> {
        self.obj
            .get(field)
            .ok_or_else(|| self.err(Some(field), "missing".into()))
    }
    fn string(&self, field: &'static str) -> Result<&str, SignatureError> {
        let v = self.required(field)?;
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(self.err(Some(field), "must not be empty".into())),
            None => Err(self.err(
                Some(field),
                format!("expected a string, found {}", quote(v)),
            )),
        }
    }
}

fn parse_entry(file: &str, index: usize, v: &Value) -> Result<Signature, SignatureError> {
    let Some(obj) = v.as_object() else {
        let problem = format!("expected an object, found {}", quote(v));
        return Err(SignatureError::Entry {
            file: file.into(),
            index,
            id: None,
            field: None,
            problem,
        });
    };
    let mut e = Entry {
        file,
        index,
        id: None,
        obj,
    };
    let idv = e.required("signature_id")?;
    let id = match idv.as_u64() {
        Some(n) if (1..FIRST_BUILTIN_ID).contains(&n) => n,
        Some(n) => {
            e.id = Some(n);
            let problem = format!(
                "{n} is out of range (1 to {}; higher ids are built-in rules)",
                FIRST_BUILTIN_ID - 1
            );
            return Err(e.err(Some("signature_id"), problem));
        }
        None => {
            return Err(e.err(
                Some("signature_id"),
                format!("expected a positive integer, found {}", quote(idv)),
            ))
        }
    };
    e.id = Some(id);
    let description = e.string("description")?;
    let pattern = e.string("pattern")?;
    let sev_text = e.string("severity")?;
    let severity = Severity::from_str(sev_text).map_err(|m| e.err(Some("severity"), m))?;
    let category = e.string("type")?;
    let protocol = match obj.get("protocol") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(ProtoFilter::from_str(s).map_err(|m| e.err(Some("protocol"), m))?)
        }
        Some(other) => {
            return Err(e.err(
                Some("protocol"),
                format!("expected a string, found {}", quote(other)),
            ))
        }
    };
    let ports = parse_ports(obj.get("port")).map_err(|m| e.err(Some("port"), m))?;
    let buffer = match obj.get("buffer") {
        None | Some(Value::Null) => Buffer::Packet,
        Some(Value::String(s)) => Buffer::from_str(s).map_err(|m| e.err(Some("buffer"), m))?,
        Some(other) => {
            return Err(e.err(
                Some("buffer"),
                format!("expected a string, found {}", quote(other)),
            ))
        }
    };
    let once_per_flow = match obj.get("once_per_flow") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(e.err(
                Some("once_per_flow"),
                format!("expected true or false, found {}", quote(other)),
            ))
        }
    };
    let (regex, prefilter) = compile(pattern).map_err(|m| e.err(Some("pattern"), m))?;
    Ok(Signature {
        id: RuleId(id),
        description: Arc::from(description),
        pattern: pattern.to_string(),
        severity,
        category: Arc::from(category),
        protocol,
        ports,
        buffer,
        once_per_flow,
        file: Arc::from(file),
        index,
        regex,
        literals: prefilter.literals,
        prefixes: prefilter.prefixes,
    })
}

fn parse_ports(v: Option<&Value>) -> Result<Vec<u16>, String> {
    let one = |p: &Value| {
        p.as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| {
                format!(
                    "expected a port number 0-65535 or a list of them, found {}",
                    quote(p)
                )
            })
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if !items.is_empty() => items.iter().map(one).collect(),
        Some(Value::Array(_)) => Err("the port list is empty".into()),
        Some(p) => one(p).map(|p| vec![p]),
    }
}

/// What the prefilter knows of one signature's regex.
pub(super) struct Prefilter {
    /// Byte strings one of which every match contains.
    pub literals: Option<Vec<Vec<u8>>>,
    /// Byte strings one of which every match starts with, at offset 0 of the payload.
    pub prefixes: Option<Vec<Vec<u8>>>,
}

/// The compiled regex and its prefilter literals, or an error quoting the pattern and position.
pub(super) fn compile(pattern: &str) -> Result<(regex::bytes::Regex, Prefilter), String> {
    let hir = literal::parse(pattern).map_err(|err| {
        let (pos, kind) = match &*err {
            regex_syntax::Error::Parse(e) => (Some(e.span().start.offset), e.kind().to_string()),
            regex_syntax::Error::Translate(e) => {
                (Some(e.span().start.offset), e.kind().to_string())
            }
            other => (None, other.to_string()),
        };
        match pos {
            Some(p) => format!("invalid regex {pattern:?} at position {p}: {kind}"),
            None => format!("invalid regex {pattern:?}: {kind}"),
        }
    })?;
    let regex = RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex {pattern:?}: {e}"))?;
    let prefilter = Prefilter {
        literals: literal::required_literals(&hir),
        prefixes: literal::start_prefixes(&hir),
    };
    Ok((regex, prefilter))
}
