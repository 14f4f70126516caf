//! The console's side of the guard and the enforcer policy: the confirm dialog sizes itself
//! to its wrapped text (its key line is never cut off at 80×24, even with a long reason), the
//! status bar always says whether responses are live or a dry run and shows failed audit
//! writes; a failed audit or blocks write is counted, named in the decision, shown in the
//! status bar and makes the CLI exit non-zero; console blocks escalate like CLI blocks, and a
//! refused console attempt is audited.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use nsm_tui::engine::model::{Model, ModelConfig};
use nsm_tui::metrics as response_metrics;
use nsm_tui::respond::console::FirewallResponder;
use nsm_tui::respond::enforcer::Request;
use nsm_tui::respond::fw::ActionKind;
use nsm_tui::respond::plan::BlockSettings;
use nsm_tui::respond::responder::Responder;
use nsm_tui::respond::safety::Guard;
use nsm_tui::store::audit::Outcome;
use nsm_tui::tui::app::{App, Effect, Overlay};
use nsm_tui::tui::keymap::KeyMap;
use nsm_tui::tui::theme::{Palette, Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn app(block: BlockSettings) -> App {
    App::new(
        KeyMap::default(),
        Theme {
            palette: Palette::Mono,
        },
        block,
        "test",
        true,
    )
}

fn screen(a: &App, m: &Model, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| nsm_tui::tui::draw(f, a, m)).unwrap();
    t.backend().to_string()
}

#[test]
fn confirm_dialog_fits_its_wrapped_text_at_80x24() {
    let m = Model::new(ModelConfig::default());
    let long = "incident #12: a very long reason that goes on and on ".repeat(6);
    let mut a = app(BlockSettings::default());
    a.overlay = Overlay::Confirm(a.block.plan(ip("198.51.100.9"), long.clone(), None));
    let s = screen(&a, &m, 80, 24);
    assert!(s.contains("[y/enter] block   [n/esc] cancel"), "{s}");
    assert!(s.contains("Address:   198.51.100.9"), "{s}");
    // Refused, with a long reason: the close line is there too.
    let mut guard = Guard::default();
    guard.protect(ip("198.51.100.9"), 32, "x".repeat(300));
    let mut a = app(BlockSettings {
        guard,
        ..BlockSettings::default()
    });
    a.overlay = Overlay::Confirm(a.block.plan(ip("198.51.100.9"), long, None));
    let s = screen(&a, &m, 80, 24);
    assert!(s.contains("[esc] close"), "{s}");
    assert!(s.contains("REFUSED"), "{s}");
    // A short dialog stays short: the box ends right below its key line.
    let mut a = app(BlockSettings::default());
    a.overlay = Overlay::Confirm(a.block.plan(ip("198.51.100.9"), "r".into(), None));
    let s = screen(&a, &m, 120, 40);
    let lines: Vec<&str> = s.lines().collect();
    let keys = lines
        .iter()
        .position(|l| l.contains("[y/enter] block"))
        .expect("key line");
    assert!(lines[keys + 1].contains('└'), "{s}");
}

#[test]
fn status_bar_says_dry_run_or_live() {
    let m = Model::new(ModelConfig::default());
    let s = screen(&app(BlockSettings::default()), &m, 120, 30);
    assert!(s.contains("[DRY RUN]"), "{s}");
    let live = app(BlockSettings {
        dry_run: false,
        ..BlockSettings::default()
    });
    let s = screen(&live, &m, 120, 30);
    assert!(
        s.contains("[RESPONSE LIVE]") && !s.contains("[DRY RUN]"),
        "{s}"
    );
}

#[test]
fn refused_console_attempt_is_sent_to_be_audited() {
    let m = Model::new(ModelConfig::default());
    let mut a = app(BlockSettings::default());
    let plan = a.block.plan(ip("127.0.0.1"), "r".into(), None);
    assert!(plan.refused.is_some());
    a.overlay = Overlay::Confirm(plan);
    let fx = a.handle_key(&KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), &m);
    assert!(
        matches!(&fx[..], [Effect::Block(p)] if p.refused.is_some()),
        "{fx:?}"
    );
    // A cancelled, allowed block sends nothing.
    let mut a = app(BlockSettings::default());
    a.overlay = Overlay::Confirm(a.block.plan(ip("198.51.100.9"), "r".into(), None));
    let fx = a.handle_key(&KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE), &m);
    assert!(fx.is_empty(), "{fx:?}");
}

fn block_trigger(db: &Path, table: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER fail_{table} BEFORE INSERT ON {table} \
         BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END;"
    ))
    .unwrap();
}

#[test]
fn failed_audit_writes_are_counted_shown_and_fail_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let config = nsm_tui::config::Config::default();
    assert!(config.response.dry_run);
    let mut e = nsm_tui::respond::setup::enforcer(&config, &db).unwrap();
    let metrics = response_metrics::shared();
    e.metrics = Some(metrics.clone());
    let req = Request {
        kind: ActionKind::Block,
        addr: ip("198.51.100.9"),
        secs: None,
        actor: "test".into(),
        reason: "r".into(),
        incident_id: None,
        alert_id: None,
        confirm_within: None,
    };
    let ok = e.apply(&req, 1_700_000_000_000_000_000, 0);
    assert!(ok.write_errors.is_empty(), "{ok:?}");
    assert_eq!(e.write_failures(), 0);
    block_trigger(&db, "actions");
    let d = e.apply(&req, 1_700_000_001_000_000_000, 0);
    assert_eq!(d.outcome, Outcome::DryRun);
    assert_eq!(d.action_id, None);
    assert_eq!(d.write_errors.len(), 1, "{d:?}");
    assert!(
        d.message.contains("audit row could not be written"),
        "{d:?}"
    );
    assert_eq!(e.write_failures(), 1);
    assert_eq!(response_metrics::snapshot(&metrics).write_failures, 1);
    // The status bar shows it.
    let mut a = app(BlockSettings::default());
    a.response = Some(metrics);
    let s = screen(&a, &Model::new(ModelConfig::default()), 120, 30);
    assert!(s.contains("AUDIT WRITES FAILED 1"), "{s}");
    // The CLI exits non-zero and says why.
    let o = Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .args(["block", "198.51.100.10", "--dry-run"])
        .arg("--db")
        .arg(&db)
        .env_remove("SSH_CONNECTION")
        .env_remove("SSH_CLIENT")
        .env_remove("DRY_RUN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("could not be written") && err.contains("write(s) failed"),
        "{err}"
    );
}

#[test]
fn console_blocks_escalate_like_cli_blocks_and_refusals_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let config = nsm_tui::config::Config::default();
    let mut r = FirewallResponder::new(&config, &db).unwrap();
    let s = BlockSettings {
        timeout_secs: config.actions.default_action_timeout,
        ..BlockSettings::default()
    };
    let plan = s.plan(ip("198.51.100.9"), "r".into(), None);
    // A dry run records no block, so escalation shows on a live enforcer only; here the
    // console asks for the default (no explicit duration), as the CLI does.
    let first = r.block(&plan, 1_700_000_000);
    assert!(first.ok, "{first:?}");
    assert!(
        first
            .message
            .contains(&format!("for {} s", config.actions.default_action_timeout)),
        "{first:?}"
    );
    let refused = s.plan(ip("127.0.0.1"), "r".into(), None);
    let out = r.block(&refused, 1_700_000_001);
    assert!(!out.ok && out.message.contains("refused"), "{out:?}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM actions WHERE target = '127.0.0.1' AND outcome = 'refused' \
             AND actor = 'console'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        r.finish(1_700_000_002),
        None,
        "a dry run leaves nothing to remove"
    );
}
