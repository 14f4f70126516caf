//! Block and export actions of the console: firewall commands per backend, the allowlist
//! verdicts, the audit responder writing a hash-chained row into a real SQLite file, pcap
//! export counts, and the keymap's overrides and errors.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod tui_support;

use std::collections::BTreeMap;
use std::net::IpAddr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use nsm_tui::config::FirewallType;
use nsm_tui::respond::console::FirewallResponder;
use nsm_tui::respond::plan::{block_command, BlockSettings};
use nsm_tui::respond::responder::Responder;
use nsm_tui::respond::safety::{discover, ssh_client};
use nsm_tui::tui::app::ExportWhat;
use nsm_tui::tui::effects::{collect_frames, export};
use nsm_tui::tui::keymap::{Action, KeyMap, KeymapError};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_dialog_shows_the_commands_the_backend_runs() {
    let a = ip("203.0.113.7");
    let nft = block_command(FirewallType::Nftables, a, 3600).join(" && ");
    assert!(nft.starts_with("nft -f - <<< '"), "{nft}");
    assert!(
        nft.contains("add element inet nsm_tui block4 { 203.0.113.7 timeout 3600s }"),
        "{nft}"
    );
    let v6 = block_command(FirewallType::Nftables, ip("2001:db8::1"), 60).join(" && ");
    assert!(v6.contains("block6 { 2001:db8::1 timeout 60s }"), "{v6}");
    let ipt = block_command(FirewallType::Iptables, a, 600).join(" && ");
    assert!(
        ipt.starts_with("ipset ") && ipt.contains("203.0.113.7") && ipt.contains("600"),
        "{ipt}"
    );
    let pf = block_command(FirewallType::Pf, a, 600).join(" && ");
    assert!(
        pf.starts_with("pfctl ") && pf.contains("203.0.113.7"),
        "{pf}"
    );
}

#[test]
fn allowlist_refuses_ssh_client_local_and_listed_ranges_with_reasons() {
    let ssh = ssh_client(Some("198.51.100.77 52144 10.0.0.2 22"), None);
    assert_eq!(ssh, Some(ip("198.51.100.77")));
    assert_eq!(
        ssh_client(None, Some("2001:db8::9 5000 22")),
        Some(ip("2001:db8::9"))
    );
    // The enforcer's guard, as the console builds it (no machine commands: a dry runner).
    let env = |k: &str| (k == "SSH_CONNECTION").then(|| "198.51.100.77 52144 10.0.0.2 22".into());
    let mut none = nsm_tui::respond::exec::DryRunner::default();
    let allow = BlockSettings {
        guard: discover(&mut none, &env, None, &["192.0.2.0/24".into()], false),
        ..BlockSettings::default()
    };
    let cases = [
        ("198.51.100.77", Some("SSH client")),
        ("127.0.0.1", Some("loopback")),
        ("10.1.2.3", Some("private")),
        ("fe80::1", Some("link-local")),
        ("192.0.2.99", Some("192.0.2.0/24")),
        ("203.0.113.7", None),
    ];
    for (addr, want) in cases {
        let v = allow.verdict(ip(addr));
        match want {
            Some(w) => assert!(
                v.as_deref()
                    .is_some_and(|r| r.contains(w) && r.contains(addr)),
                "{addr}: {v:?}"
            ),
            None => assert_eq!(v, None, "{addr}"),
        }
    }
    let mut local_ok = allow.clone();
    local_ok.guard.allow_private = true;
    assert_eq!(local_ok.verdict(ip("10.1.2.3")), None);
}

#[test]
fn console_blocks_go_through_the_audited_responder() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("audit.db");
    let config = nsm_tui::config::Config::default();
    assert!(config.response.dry_run, "dry run is the default");
    let mut r = FirewallResponder::new(&config, &db).unwrap();
    // The incident store already holds the incident; the console shows it with the same id.
    let alert = tui_support::alert(
        nsm_tui::engine::frame::Ts(1_000_000_000),
        nsm_tui::engine::alert::Severity::Medium,
        "port_scan",
        1,
    );
    let mut g = nsm_tui::engine::incident::Grouper::new(300, 10).first_id(4);
    let (stored, change) = g.add(&alert, Some(ip("203.0.113.7")), None);
    let conn = nsm_tui::respond::setup::open_db(&db).unwrap();
    let row = nsm_tui::store::incidents::IncidentSave::of(stored, change);
    nsm_tui::store::incidents::upsert(&conn, &[row]).unwrap();
    let s = BlockSettings::default();
    let plan = s.plan(ip("203.0.113.7"), "port_scan".into(), Some(stored.id));
    let out = r.block(&plan, 1_700_000_000);
    assert!(out.ok, "{out:?}");
    let refused = r.block(&s.plan(ip("127.0.0.1"), "x".into(), None), 1_700_000_001);
    assert!(!refused.ok, "{refused:?}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let outcomes: Vec<(String, String)> = conn
        .prepare("SELECT target, outcome FROM actions ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        outcomes[0],
        ("203.0.113.7".to_string(), "dry_run".to_string())
    );
    // The audit row names the incident by its one id.
    let incident: Option<i64> = conn
        .query_row(
            "SELECT incident_id FROM actions ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(incident, Some(4));
    assert!(
        outcomes
            .iter()
            .any(|(t, o)| t == "127.0.0.1" && o == "refused"),
        "{outcomes:?}"
    );
    let v = nsm_tui::store::audit::verify(&conn).unwrap();
    assert_eq!(v.rows, outcomes.len() as u64);
    assert_eq!(
        v.first_broken, None,
        "console rows extend the same hash chain"
    );
}

#[test]
fn exports_write_the_counts_they_report() {
    let shared = tui_support::demo_model(100_000);
    let dir = tempfile::tempdir().unwrap();
    let m = shared.lock();
    let inc = m.incidents().front().map(|i| i.id).unwrap();
    let cases = [
        (ExportWhat::All, 3000usize),
        (
            ExportWhat::Filtered(nsm_tui::engine::filter::parse("udp").unwrap()),
            collect_frames(
                &m,
                &ExportWhat::Filtered(nsm_tui::engine::filter::parse("udp").unwrap()),
            )
            .len(),
        ),
        (
            ExportWhat::Incident {
                id: inc,
                before_secs: 10,
            },
            collect_frames(
                &m,
                &ExportWhat::Incident {
                    id: inc,
                    before_secs: 10,
                },
            )
            .len(),
        ),
    ];
    drop(m);
    for (i, (what, n)) in cases.into_iter().enumerate() {
        assert!(n > 0);
        let path = dir.path().join(format!("x{i}.pcap"));
        let out = export(&shared, &path, &what);
        assert!(out.ok, "{out:?}");
        assert!(
            out.message.starts_with(&format!("wrote {n} packets")),
            "{}",
            out.message
        );
        let mut src = nsm_tui::capture::file::FileSource::open(&path).unwrap();
        let mut got = 0;
        while nsm_tui::capture::Source::next_frame(&mut src)
            .unwrap()
            .is_some()
        {
            got += 1;
        }
        assert_eq!(got, n);
    }
}

#[test]
fn keymap_overrides_rebind_and_report_bad_entries() {
    let k = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
    let def = KeyMap::default();
    assert_eq!(def.action(&k('j')), Some(Action::Down));
    assert_eq!(
        def.action(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Some(Action::Quit)
    );
    let mut o = BTreeMap::new();
    o.insert("quit".to_string(), "x, ctrl+q".to_string());
    o.insert("block".to_string(), "q".to_string());
    let m = KeyMap::with_overrides(&o).unwrap();
    assert_eq!(m.action(&k('x')), Some(Action::Quit));
    assert_eq!(m.action(&k('q')), Some(Action::Block));
    assert_eq!(m.action(&k('b')), None);
    assert_eq!(m.keys_of(Action::Quit), "x/ctrl+q");
    assert!(m
        .footer()
        .iter()
        .any(|(key, help)| key == "q" && *help == "block source"));
    let mut bad = BTreeMap::new();
    bad.insert("explode".to_string(), "x".to_string());
    assert!(
        matches!(KeyMap::with_overrides(&bad), Err(KeymapError::UnknownAction(a, _)) if a == "explode")
    );
    let mut bad = BTreeMap::new();
    bad.insert("quit".to_string(), "hyper+banana".to_string());
    let e = KeyMap::with_overrides(&bad).unwrap_err();
    assert!(
        e.to_string().contains("hyper+banana") && e.to_string().contains("[console.keys] quit")
    );
}
