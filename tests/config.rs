//! Configuration loading: defaults, the file, environment variables, their precedence, the
//! error messages users see, masking of secrets, and the shipped example file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use nsm_tui::config::{load, load_from, parse_file, Config, ConfigError, FirewallType, ENV_VARS};

fn no_env(_: &str) -> Option<String> {
    None
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write temp config");
    path
}

/// Loads `text` as `nsm-tui.toml` and returns the error, which must be a file error.
fn file_error(text: &str) -> (PathBuf, usize, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "nsm-tui.toml", text);
    let err = load(Some(&path), &no_env).expect_err("config should be rejected");
    let shown = err.to_string();
    match err {
        ConfigError::File {
            path: p,
            line,
            message,
        } => (p, line, message, shown),
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn defaults_match_the_documented_values() {
    let c = Config::default();
    assert_eq!(c.sniffer.interface, None);
    assert_eq!(c.sniffer.capture_duration, 0);
    assert_eq!(c.sniffer.packet_count_limit, 0);
    assert_eq!(c.sniffer.snaplen, 65_535);
    assert!(c.sniffer.promiscuous && !c.sniffer.immediate_mode);
    assert_eq!(c.sniffer.buffer_size_mb, 32);
    assert_eq!(c.sniffer.workers, 0);
    // z-score bar of the statistical detectors (4 spreads above the baseline), and its
    // window: one minute of capture time.
    assert!((c.detector.anomaly_threshold - 4.0).abs() < f64::EPSILON);
    assert!((c.detector.confidence_threshold - 0.8).abs() < f64::EPSILON);
    assert_eq!(c.detector.feature_window_size, 60);
    assert_eq!(c.detector.model_file, None);
    assert!(c.detector.baseline.enabled && c.detector.isolation_forest.enabled);
    assert_eq!(c.detector.model_update_interval, 300);
    // Unset: the installed directories, then the built-in set (never the working directory).
    assert_eq!(c.detector.signatures_dir, None);
    assert!(!c.response.auto_response_enabled);
    assert!(c.response.dry_run);
    assert_eq!(c.response.max_concurrent_actions, 5);
    assert_eq!(c.actions.firewall_type, FirewallType::Nftables);
    assert_eq!(c.actions.default_action_timeout, 3600);
    assert_eq!(c.integrations.abuseipdb_api_key, None);
    assert_eq!(c.storage.db_path, Path::new("data/packets.db"));
    assert_eq!(c.storage.retention_max_packets, 1_000_000);
    assert_eq!(c.storage.retention_max_age_hours, 168);
    assert_eq!(
        c.storage.pcap_log_path,
        Path::new("data/captured_packets.pcap")
    );
    assert_eq!(c.storage.pcap_rotate_mb, 100);
    assert_eq!(c.output.eve_path, None);
    assert_eq!(c.output.flow_timeout_secs, 120);
    assert_eq!(c.output.max_flows, 100_000);
    assert_eq!(c.output.stats_interval_secs, 5);
    assert_eq!(c.geoip.city_db, None);
    assert_eq!(c.console.fps, 20);
    assert_eq!(c.console.retained_packets, 100_000);
    assert_eq!(c.console.theme, "dark");
    assert!(c.console.keys.is_empty());
    assert_eq!(
        c.check(),
        Ok(()),
        "defaults must pass their own range checks"
    );
}

#[test]
fn no_file_and_no_env_gives_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let absent = vec![dir.path().join("nope.toml")];
    let loaded = load_from(None, &absent, &no_env).expect("defaults load");
    assert_eq!(loaded.source, None);
    assert_eq!(loaded.config, Config::default());
}

#[test]
fn the_first_existing_search_path_is_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let second = write(&dir, "second.toml", "[console]\nfps = 7\n");
    let search = vec![dir.path().join("first.toml"), second.clone()];
    let loaded = load_from(None, &search, &no_env).expect("loads");
    assert_eq!(loaded.source, Some(second));
    assert_eq!(loaded.config.console.fps, 7);
}

#[test]
fn an_explicit_missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.toml");
    let err = load(Some(&missing), &no_env).expect_err("must fail");
    assert!(matches!(err, ConfigError::NotFound { ref path } if *path == missing));
    assert!(err.to_string().contains("missing.toml"), "{err}");
}

const FULL_FILE: &str = r#"
[sniffer]
interface = "eth1"
capture_filter = "not port 22"
capture_duration = 60
packet_count_limit = 1000
workers = 3

[detector]
anomaly_threshold = 3
confidence_threshold = 0.5

[response]
dry_run = false
response_threshold = 0.9
max_concurrent_actions = 2

[actions]
firewall_type = "iptables"
bandwidth_limit = "500kbit"

[integrations]
siem_url = "https://siem.file:8088/x"
slack_webhook = "https://hooks.slack.com/services/FILE"
abuseipdb_api_key = "file-key-0000000000"
abuseipdb_base_url = "http://127.0.0.1:9999/api/v2"

[output]
eve_path = "out/eve.json"

[console.keys]
quit = "Q"
"#;

#[test]
fn file_values_override_defaults_and_the_rest_stay_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "c.toml", FULL_FILE);
    let loaded = load(Some(&path), &no_env).expect("file loads");
    let c = &loaded.config;
    assert_eq!(loaded.source.as_deref(), Some(path.as_path()));
    assert_eq!(c.sniffer.interface.as_deref(), Some("eth1"));
    assert_eq!(c.sniffer.capture_filter, "not port 22");
    assert_eq!(c.sniffer.capture_duration, 60);
    assert_eq!(c.sniffer.packet_count_limit, 1000);
    assert_eq!(c.effective_workers(16), 3);
    // An integer is accepted where a float is expected.
    assert!((c.detector.anomaly_threshold - 3.0).abs() < f64::EPSILON);
    assert!(!c.response.dry_run);
    assert_eq!(c.actions.firewall_type, FirewallType::Iptables);
    assert_eq!(c.actions.bandwidth_limit, "500kbit");
    assert_eq!(
        c.output.eve_path.as_deref(),
        Some(Path::new("out/eve.json"))
    );
    assert_eq!(c.console.keys.get("quit").map(String::as_str), Some("Q"));
    assert_eq!(c.storage, Config::default().storage);
    assert_eq!(c.console.fps, 20);
}

/// An environment variable, a value for it, and how to read the field it sets.
type EnvCase = (&'static str, &'static str, fn(&Config) -> String);

fn env_cases() -> Vec<EnvCase> {
    vec![
        ("NETWORK_INTERFACE", "wlan9", |c| {
            format!("{:?}", c.sniffer.interface)
        }),
        ("CAPTURE_DURATION", "42", |c| {
            c.sniffer.capture_duration.to_string()
        }),
        ("PACKET_LIMIT", "77", |c| {
            c.sniffer.packet_count_limit.to_string()
        }),
        ("ANOMALY_THRESHOLD", "4.25", |c| {
            c.detector.anomaly_threshold.to_string()
        }),
        ("RESPONSE_THRESHOLD", "0.65", |c| {
            c.response.response_threshold.to_string()
        }),
        ("DRY_RUN", "yes", |c| c.response.dry_run.to_string()),
        ("MAX_CONCURRENT_ACTIONS", "9", |c| {
            c.response.max_concurrent_actions.to_string()
        }),
        ("SIEM_URL", "https://siem.env/in", |c| {
            format!("{:?}", c.integrations.siem_url)
        }),
        (
            "SLACK_WEBHOOK",
            "https://hooks.slack.com/services/ENV",
            |c| format!("{:?}", c.integrations.slack_webhook),
        ),
        ("ABUSEIPDB_API_KEY", "env-key-1111111111", |c| {
            format!("{:?}", c.integrations.abuseipdb_api_key)
        }),
        ("ABUSEIPDB_BASE_URL", "http://127.0.0.1:1/env", |c| {
            c.integrations.abuseipdb_base_url.clone()
        }),
    ]
}

#[test]
fn every_env_var_overrides_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "c.toml", FULL_FILE);
    let from_file = load(Some(&path), &no_env).expect("file loads").config;
    let cases = env_cases();
    assert_eq!(cases.len(), ENV_VARS.len(), "every variable has a case");
    for (var, value, field) in cases {
        let env = |name: &str| (name == var).then(|| value.to_string());
        let with_env = load(Some(&path), &env).expect("env applies").config;
        assert_ne!(field(&with_env), field(&from_file), "{var} changed nothing");
        let shown = field(&with_env);
        let expected = if var == "DRY_RUN" { "true" } else { value };
        assert!(
            shown.contains(expected),
            "{var}: field is {shown}, want {expected}"
        );
        // Setting the variable to the file's own value reproduces the file's config, so the
        // variable touched only its own field.
        let env_same = |name: &str| (name == var).then(|| field_source(var, &from_file));
        let same = load(Some(&path), &env_same)
            .expect("same value applies")
            .config;
        assert_eq!(same, from_file, "{var} touched other fields");
    }
}

/// The file's value of the field `var` sets, spelt as the variable would spell it.
fn field_source(var: &str, c: &Config) -> String {
    let i = &c.integrations;
    match var {
        "NETWORK_INTERFACE" => c.sniffer.interface.clone().unwrap_or_default(),
        "CAPTURE_DURATION" => c.sniffer.capture_duration.to_string(),
        "PACKET_LIMIT" => c.sniffer.packet_count_limit.to_string(),
        "ANOMALY_THRESHOLD" => c.detector.anomaly_threshold.to_string(),
        "RESPONSE_THRESHOLD" => c.response.response_threshold.to_string(),
        "DRY_RUN" => c.response.dry_run.to_string(),
        "MAX_CONCURRENT_ACTIONS" => c.response.max_concurrent_actions.to_string(),
        "SIEM_URL" => i.siem_url.clone().unwrap_or_default(),
        "SLACK_WEBHOOK" => i.slack_webhook.clone().unwrap_or_default(),
        "ABUSEIPDB_API_KEY" => i.abuseipdb_api_key.clone().unwrap_or_default(),
        "ABUSEIPDB_BASE_URL" => i.abuseipdb_base_url.clone(),
        other => panic!("no case for {other}"),
    }
}

#[test]
fn precedence_is_defaults_then_file_then_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "c.toml", "[sniffer]\ncapture_duration = 10\n");
    let vars: HashMap<&str, &str> = [("CAPTURE_DURATION", "20"), ("PACKET_LIMIT", "")].into();
    let env = |k: &str| vars.get(k).map(|v| (*v).to_string());
    let c = load(Some(&path), &env).expect("loads").config;
    assert_eq!(c.sniffer.capture_duration, 20, "env beats file");
    assert_eq!(
        c.sniffer.packet_count_limit, 0,
        "an empty variable counts as unset"
    );
    let c = load(Some(&path), &no_env).expect("loads").config;
    assert_eq!(c.sniffer.capture_duration, 10, "file beats default");
}

#[test]
fn unknown_key_names_file_line_and_key_with_a_suggestion() {
    let text = "# test config\n[detector]\nanomaly_threshold = 2.0\n\n[console]\nfps = 5\n\n\
        [sniffer]\ncapture_filter = \"\"\nsnaplen = 1500\nworkers = 1\nintrface = \"eth0\"\n";
    assert_eq!(text.lines().nth(11), Some("intrface = \"eth0\""));
    let (path, line, message, shown) = file_error(text);
    assert!(path.ends_with("nsm-tui.toml"));
    assert_eq!(line, 12);
    assert_eq!(
        message,
        r#"[sniffer] unknown key "intrface" (did you mean "interface"?)"#
    );
    assert!(
        shown.ends_with(&format!("nsm-tui.toml:12: {message}")),
        "{shown}"
    );
    let (_, line, message, _) = file_error("[storage]\nzzz_unrelated = 1\n");
    assert_eq!(line, 2);
    assert!(
        message.starts_with(r#"[storage] unknown key "zzz_unrelated" (known: db_path,"#),
        "{message}"
    );
}

#[test]
fn unknown_section_is_named_with_a_suggestion() {
    let (_, line, message, _) = file_error("[sniffer]\nworkers = 1\n\n[detectr]\nfoo = 1\n");
    assert_eq!(line, 4);
    assert_eq!(
        message,
        "unknown section [detectr] (did you mean [detector]?)"
    );
}

#[test]
fn wrong_type_names_line_key_expected_and_found() {
    let text = "[response]\nauto_response_enabled = false\n\ndry_run = \"yes\"\n";
    let (_, line, message, shown) = file_error(text);
    assert_eq!(line, 4);
    assert_eq!(
        message,
        r#"[response] dry_run: expected a boolean, found string "yes""#
    );
    assert!(shown.ends_with(
        r#"nsm-tui.toml:4: [response] dry_run: expected a boolean, found string "yes""#
    ));
}

#[test]
fn nested_and_enum_errors_name_their_key() {
    let (_, line, message, _) = file_error("[console]\nfps = 10\n[console.keys]\nquit = 3\n");
    assert_eq!(
        (line, message.as_str()),
        (4, "[console.keys] quit: expected a string, found integer 3")
    );
    let (_, line, message, _) = file_error("\n[actions]\nfirewall_type = \"ufw\"\n");
    assert_eq!(line, 3);
    assert!(
        message.starts_with(r#"[actions] firewall_type: unknown value "ufw""#),
        "{message}"
    );
    assert!(message.contains("nftables"), "{message}");
    let (_, line, message, _) = file_error("[sniffer]\n\nsnaplen = -1\n");
    assert_eq!(line, 3);
    assert_eq!(
        message,
        "[sniffer] snaplen: expected a non-negative integer, found integer -1"
    );
}

#[test]
fn out_of_range_values_name_line_and_key() {
    let cases = [
        (
            "[console]\ntheme = \"dark\"\nfps = 0\n",
            3,
            "[console] fps: must be between 1 and 60, found 0",
        ),
        (
            "[sniffer]\nworkers = 300\n",
            2,
            "[sniffer] workers: must be between 0 and 256, found 300",
        ),
        (
            "[detector]\nconfidence_threshold = 1.5\n",
            2,
            "[detector] confidence_threshold: must be between 0 and 1, found 1.5",
        ),
        (
            "[response]\n\nresponse_threshold = -0.1\n",
            3,
            "[response] response_threshold: must be a finite number >= 0, found -0.1",
        ),
        (
            "[console.keys]\nhelp = \"\"\n",
            2,
            "[console.keys] help: must not be empty",
        ),
    ];
    for (text, want_line, want) in cases {
        let (_, line, message, _) = file_error(text);
        assert_eq!((line, message.as_str()), (want_line, want), "{text}");
    }
    let (_, _, message, _) = file_error("[actions]\nbandwidth_limit = \"fast\"\n");
    assert!(
        message.starts_with("[actions] bandwidth_limit: expected a rate"),
        "{message}"
    );
}

#[test]
fn syntax_errors_report_their_line() {
    let (_, line, message, _) = file_error("[sniffer]\nworkers = 1\nsnaplen = \n");
    assert_eq!(line, 3, "{message}");
    let (_, line, message, _) = file_error("[console]\nfps = 1\nfps = 2\n");
    assert_eq!(line, 3);
    assert!(message.contains("duplicate key"), "{message}");
}

#[test]
fn bad_env_values_name_the_variable_and_value() {
    let check = |var: &str, value: &str| {
        let env = |k: &str| (k == var).then(|| value.to_string());
        load_from(None, &[], &env)
            .expect_err("must be rejected")
            .to_string()
    };
    assert_eq!(
        check("DRY_RUN", "maybe"),
        r#"DRY_RUN="maybe": expected true/false/1/0/yes/no"#
    );
    assert_eq!(
        check("CAPTURE_DURATION", "-5"),
        r#"CAPTURE_DURATION="-5": expected a non-negative integer"#
    );
    assert_eq!(
        check("ANOMALY_THRESHOLD", "high"),
        r#"ANOMALY_THRESHOLD="high": expected a number"#
    );
    assert_eq!(
        check("MAX_CONCURRENT_ACTIONS", "0"),
        r#"MAX_CONCURRENT_ACTIONS="0": must be between 1 and 1024, found 0"#
    );
    let secret = "not-a-url-but-a-secret-token";
    let shown = check("SLACK_WEBHOOK", secret);
    assert!(shown.starts_with("SLACK_WEBHOOK=\"****"), "{shown}");
    assert!(!shown.contains("secret-token"), "secret leaked: {shown}");
}

#[test]
fn masked_printing_never_contains_secrets() {
    let mut c = Config::default();
    let key = "0123456789abcdefSECRETKEYzz42";
    c.integrations.abuseipdb_api_key = Some(key.to_string());
    c.integrations.slack_webhook =
        Some("https://hooks.slack.com/services/T0SLACK/B0HOOK/webhookSECRET".to_string());
    c.integrations.siem_url = Some("https://admin:hunter2@siem.local:8088/in?token=tok3n".into());
    let shown = c.to_toml_masked();
    for secret in [
        key,
        "SECRETKEY",
        "T0SLACK",
        "B0HOOK",
        "webhookSECRET",
        "hunter2",
        "tok3n",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked in:\n{shown}");
    }
    assert!(shown.contains("****zz42"), "{shown}");
    assert!(shown.contains("hooks.slack.com"), "{shown}");
    assert!(shown.contains("siem.local:8088"), "{shown}");
    // The masked text is still a valid config with everything else unchanged.
    let back: Config = toml::from_str(&shown).expect("masked output parses");
    assert_eq!(back.sniffer, c.sniffer);
    assert_eq!(back.console, c.console);
}

#[test]
fn effective_workers_leaves_a_core_for_capture() {
    let mut c = Config::default();
    assert_eq!(c.effective_workers(8), 7);
    assert_eq!(c.effective_workers(2), 1);
    assert_eq!(c.effective_workers(1), 1);
    assert_eq!(c.effective_workers(0), 1);
    c.sniffer.workers = 4;
    assert_eq!(c.effective_workers(2), 4);
}

#[test]
fn validate_catches_values_set_after_loading() {
    let mut c = Config::default();
    c.console.fps = 120;
    let err = c.validate().expect_err("fps 120 is out of range");
    assert_eq!(
        err.to_string(),
        "[console] fps: must be between 1 and 60, found 120"
    );
}

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("nsm-tui.example.toml")
}

#[test]
fn the_example_file_parses_to_the_defaults() {
    let path = example_path();
    let text = std::fs::read_to_string(&path).expect("example file present");
    let parsed = parse_file(&path, &text).expect("example parses");
    assert_eq!(parsed, Config::default());
}

/// `(section, key)` for every key written in the example, commented out or not.
fn example_keys(text: &str) -> BTreeSet<(String, String)> {
    let mut section = String::new();
    let mut keys = BTreeSet::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = h.to_string();
        } else if let Some((k, _)) = line.trim_start_matches("# ").split_once(" = ") {
            if !k.contains(' ') && !k.starts_with('#') {
                keys.insert((section.clone(), k.to_string()));
            }
        }
    }
    keys
}

#[test]
fn the_example_file_lists_every_key() {
    let text = std::fs::read_to_string(example_path()).expect("example file present");
    let listed = example_keys(&text);
    let mut full = Config::default();
    full.sniffer.interface = Some("eth0".into());
    full.integrations.siem_url = Some("https://s".into());
    full.integrations.slack_webhook = Some("https://h".into());
    full.integrations.abuseipdb_api_key = Some("k".into());
    full.output.eve_path = Some("e".into());
    full.geoip.asn_db = Some("a".into());
    let table = toml::Table::try_from(&full).expect("serializes");
    for (section, body) in &table {
        let body = body.as_table().expect("every top-level key is a section");
        for (key, value) in body {
            if value.is_table() {
                assert!(
                    text.contains(&format!("[{section}.{key}]")),
                    "[{section}.{key}] missing"
                );
                continue;
            }
            let entry = (section.clone(), key.clone());
            assert!(listed.contains(&entry), "example lacks [{section}] {key}");
        }
    }
}
