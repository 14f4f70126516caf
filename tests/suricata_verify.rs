//! Suricata's own test vectors (`../shared/data/suricata-verify/`, listed in its `INDEX.tsv`):
//! the rules the JSON signature format can express (`content`, `pcre`, `nocase`, ports,
//! protocol) are translated to JSON signatures, run through the real binary over the vector's
//! pcap, and the alert count of every translated sid must equal Suricata's expected count.
//! Everything else is skipped with its reason (printed; run with `--nocapture` to see it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

/// Signature ids from this one up are the built-in detectors'; the loader refuses them.
const FIRST_BUILTIN_ID: u64 = 9_000_000;

/// Options that only label a rule; they do not change what it matches.
const LABELS: &[&str] = &[
    "msg",
    "sid",
    "rev",
    "classtype",
    "priority",
    "metadata",
    "reference",
];

/// Splits a rule's option list on `;`, honouring quotes and backslash escapes.
fn options(body: &str) -> Vec<(String, Option<String>)> {
    let (mut out, mut cur, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in body.chars() {
        match c {
            _ if escaped => {
                cur.push(c);
                escaped = false;
            }
            '\\' => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                cur.push(c);
                quoted = !quoted;
            }
            ';' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .map(|o| match o.split_once(':') {
            Some((k, v)) => (k.trim().to_string(), Some(v.trim().to_string())),
            None => (o.to_string(), None),
        })
        .collect()
}

/// A rule `content` value as a regex: `|hex|` runs become byte escapes, `\` escapes a quote,
/// semicolon, colon or backslash, everything else is literal.
fn content_regex(v: &str) -> Result<String, String> {
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(|| format!("content {v:?} is not quoted"))?;
    let (mut re, mut hex, mut chars) = (String::new(), false, v.chars());
    while let Some(c) = chars.next() {
        match c {
            '|' => hex = !hex,
            _ if hex && c.is_whitespace() => {}
            _ if hex => {
                let lo = chars.next().ok_or("odd hex digits in content")?;
                let byte = u8::from_str_radix(&format!("{c}{lo}"), 16)
                    .map_err(|_| format!("bad hex {c}{lo} in content"))?;
                re.push_str(&format!("(?-u:\\x{byte:02x})"));
            }
            '\\' => {
                let e = chars.next().ok_or("content ends in a backslash")?;
                re.push_str(&regex::escape(&e.to_string()));
            }
            _ => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    Ok(re)
}

/// A `pcre:"/re/flags"` value as a regex with inline flags.
fn pcre_regex(v: &str) -> Result<String, String> {
    if v.starts_with('!') {
        return Err("negated pcre".into());
    }
    let v = v
        .strip_prefix("\"/")
        .and_then(|v| v.strip_suffix('"'))
        .ok_or_else(|| format!("pcre {v:?} is not \"/re/flags\""))?;
    let (re, flags) = v.rsplit_once('/').ok_or("pcre without closing /")?;
    let mut inline = String::new();
    for f in flags.chars() {
        match f {
            'i' | 's' | 'm' | 'x' => inline.push(f),
            // PCRE's match-limit override: no effect on what matches.
            'O' => {}
            _ => return Err(format!("pcre modifier {f} (buffer or relative match)")),
        }
    }
    let re = re.replace("\\/", "/");
    Ok(if inline.is_empty() {
        re
    } else {
        format!("(?{inline}){re}")
    })
}

/// One port field as the JSON `port` value, or `None` for `any`.
fn port(p: &str) -> Result<Option<u16>, String> {
    match p {
        "any" => Ok(None),
        _ => p
            .parse()
            .map(Some)
            .map_err(|_| format!("port expression {p:?}")),
    }
}

/// The rule's header filters: protocol and port for the JSON signature.
fn header(h: &str) -> Result<(Option<&'static str>, Option<u16>), String> {
    let f: Vec<&str> = h.split_whitespace().collect();
    let [_, proto, src, sport, _, dst, dport] = f[..] else {
        return Err(format!("rule header {h:?}"));
    };
    let proto = match proto {
        "tcp" => Some("TCP"),
        "udp" => Some("UDP"),
        "icmp" => Some("ICMP"),
        "ip" => None,
        other => return Err(format!("application-layer protocol {other}")),
    };
    if src != "any" || dst != "any" {
        return Err("address filter".into());
    }
    let port = match (port(sport)?, port(dport)?) {
        (Some(_), Some(_)) => return Err("both ports fixed".into()),
        (a, b) => a.or(b),
    };
    Ok((proto, port))
}

/// A Suricata rule as a JSON signature, or why the JSON format cannot express it.
fn translate(rule: &str) -> Result<(u64, Value), String> {
    let (head, body) = rule.split_once('(').ok_or("rule without options")?;
    let body = body
        .trim_end()
        .strip_suffix(')')
        .ok_or("unclosed options")?;
    let (proto, port) = header(head)?;
    let (mut sid, mut pattern, mut nocase) = (None, None, false);
    for (k, v) in options(body) {
        match (k.as_str(), v) {
            ("sid", Some(v)) => sid = v.parse::<u64>().ok(),
            (l, _) if LABELS.contains(&l) => {}
            ("nocase", None) => nocase = true,
            ("content" | "pcre", Some(_)) if pattern.is_some() => {
                return Err("more than one content/pcre (the JSON format has one pattern)".into())
            }
            ("content", Some(v)) if v.starts_with('!') => return Err("negated content".into()),
            ("content", Some(v)) => pattern = Some(content_regex(&v)?),
            ("pcre", Some(v)) => pattern = Some(pcre_regex(&v)?),
            (k, _) if k.starts_with("http") => return Err(format!("{k} buffer")),
            ("flow" | "stream_size" | "flowbits" | "flowint", _) => {
                return Err(format!("{k} (flow/stream state)"))
            }
            (k, _) => return Err(format!("keyword {k}")),
        }
    }
    let sid = sid.ok_or("no sid")?;
    if sid >= FIRST_BUILTIN_ID {
        return Err(format!("sid {sid} is in the built-in detectors' range"));
    }
    let pattern = pattern.ok_or("no content or pcre")?;
    let pattern = if nocase {
        format!("(?i){pattern}")
    } else {
        pattern
    };
    let mut sig = json!({
        "signature_id": sid, "description": format!("suricata-verify sid {sid}"),
        "pattern": pattern, "severity": "Low", "type": "suricata-verify",
    });
    if let Some(p) = proto {
        sig["protocol"] = json!(p);
    }
    if let Some(p) = port {
        sig["port"] = json!(p);
    }
    Ok((sid, sig))
}

/// `sid=N:count=C;...` as sid → count (`sid=*` entries are left out).
fn expected_counts(s: &str) -> BTreeMap<u64, u64> {
    s.split(';')
        .filter_map(|e| {
            let (sid, count) = e.split_once(":count=")?;
            Some((sid.strip_prefix("sid=")?.parse().ok()?, count.parse().ok()?))
        })
        .collect()
}

/// Alerts per signature id when the binary reads `pcap` with only `sigs` loaded.
fn alert_counts(pcap: &Path, sigs: &[Value]) -> BTreeMap<u64, u64> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("vector.json"),
        Value::from(sigs.to_vec()).to_string(),
    )
    .expect("write signatures");
    let out = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(pcap)
        .args(["--eve", "-", "--no-db", "--no-pcap-log", "--signatures"])
        .arg(dir.path())
        .output()
        .expect("nsm-tui runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", pcap.display());
    assert!(!stderr.contains("signature skipped"), "{stderr}");
    let mut counts = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let e: Value = serde_json::from_str(line).expect("EVE lines are JSON");
        if let Some(sid) = e["alert"]["signature_id"].as_u64() {
            *counts.entry(sid).or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn translation_covers_content_pcre_nocase_ports_and_names_what_it_skips() {
    let (sid, sig) = translate(
        r#"alert tcp any 80 -> any any (msg:"x"; content:"Www-Auth\: |0d 0a|"; nocase; sid:7;)"#,
    )
    .expect("translatable");
    assert_eq!(sid, 7);
    assert_eq!(sig["pattern"], r"(?i)Www\-Auth: (?-u:\x0d)(?-u:\x0a)");
    assert_eq!(
        (sig["protocol"].clone(), sig["port"].clone()),
        (json!("TCP"), json!(80))
    );
    let re = regex::bytes::Regex::new(sig["pattern"].as_str().unwrap()).unwrap();
    assert!(re.is_match(b"HTTP/1.1 401\r\nWWW-AUTH: \r\n"));
    let (_, sig) = translate(r#"alert ip any any -> any any (pcre:"/a\/b/iO"; sid:2;)"#).unwrap();
    assert_eq!(sig["pattern"], "(?i)a/b");
    assert!(sig.get("protocol").is_none());
    for (rule, why) in [
        (
            r#"alert tcp any any -> any any (flow:established; content:"a"; sid:1;)"#,
            "flow",
        ),
        (
            r#"alert tcp any any -> any any (content:"a"; http_uri; sid:1;)"#,
            "http_uri",
        ),
        (
            r#"alert http any any -> any any (content:"a"; sid:1;)"#,
            "application-layer",
        ),
        (
            r#"alert tcp any any -> any any (pcre:"/a/U"; sid:1;)"#,
            "modifier U",
        ),
        (
            r#"alert tcp any any -> any any (content:"GET"; pcre:!"/two/"; sid:3;)"#,
            "more than one",
        ),
        (
            r#"alert tcp 1.2.3.4 any -> any any (content:"a"; sid:1;)"#,
            "address",
        ),
        (
            r#"alert icmp any any -> any any (itype:8; sid:1;)"#,
            "keyword itype",
        ),
    ] {
        let err = translate(rule).expect_err(rule);
        assert!(err.contains(why), "{rule}: {err}");
    }
}

#[test]
fn translated_suricata_verify_rules_alert_as_often_as_suricata_expects() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let sv = data.join("suricata-verify");
    let index = std::fs::read_to_string(sv.join("INDEX.tsv"));
    if !common::prerequisite(index.is_ok(), "the shared suricata-verify/INDEX.tsv") {
        return;
    }
    let index = index.unwrap_or_default();
    let (mut translated, mut matched, mut skipped, mut failures) = (0, 0, 0, Vec::new());
    let mut missing = Vec::new();
    for line in index.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let [test, dir, pcap, _, rules, _, expected, ..] = f[..] else {
            continue;
        };
        let want = expected_counts(expected);
        let Ok(text) = std::fs::read_to_string(sv.join(dir).join(rules)) else {
            missing.push(format!("suricata-verify/{dir}/{rules}"));
            continue;
        };
        let (mut sigs, mut notes) = (Vec::new(), Vec::new());
        for rule in text.lines().map(str::trim) {
            if rule.is_empty() || rule.starts_with('#') {
                continue;
            }
            match translate(rule) {
                Ok((sid, sig)) if want.contains_key(&sid) => sigs.push((sid, sig)),
                Ok((sid, _)) => notes.push(format!("sid {sid}: no expected count")),
                Err(why) => notes.push(why),
            }
        }
        if sigs.is_empty() {
            skipped += 1;
            eprintln!("skip  {test}: {}", notes.join("; "));
            continue;
        }
        translated += 1;
        let got = alert_counts(
            &sv.join(dir).join(pcap),
            &sigs.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
        );
        let mut ok = true;
        for (sid, _) in &sigs {
            let (g, w) = (got.get(sid).copied().unwrap_or(0), want[sid]);
            eprintln!(
                "{}  {test} sid {sid}: {g} alerts, expected {w}",
                if g == w { "ok  " } else { "FAIL" }
            );
            if g != w {
                ok = false;
                failures.push(format!("{test} sid {sid}: {g} alerts, expected {w}"));
            }
        }
        if !notes.is_empty() {
            eprintln!("      {test}, rules left out: {}", notes.join("; "));
        }
        matched += usize::from(ok);
    }
    // Vectors whose rules the JSON format cannot express are counted, not silently dropped.
    common::note(&format!(
        "suricata-verify: {translated} vectors translated, {matched} matched, {skipped} not \
         expressible as JSON signatures (listed as `skip` with --nocapture)"
    ));
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(translated + skipped > 0, "INDEX.tsv lists no vectors");
    // The vectors whose rules are absent were not checked: a failure under CI, a note otherwise.
    common::prerequisite(
        missing.is_empty(),
        &format!("the shared rule files {missing:?}"),
    );
}
