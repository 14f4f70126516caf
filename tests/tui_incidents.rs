//! Incident lifecycle from the console: the model's state changes and notes (with the moves a
//! person may not make refused), the `a`/`r`/`n` keys and their effects, and the writer that
//! finds the stored incident in a real SQLite file and changes it there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]

mod tui_support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use nsm_tui::engine::alert::Severity;
use nsm_tui::engine::incident::{Change, Grouper, IncidentState};
use nsm_tui::engine::model::{IncidentEdit, Model, ModelConfig};
use nsm_tui::respond::plan::BlockSettings;
use nsm_tui::store::incidents::{get, save_all, upsert, EditConnection, IncidentSave};
use nsm_tui::tui::app::{App, Effect, Focus, Overlay};
use nsm_tui::tui::incident_edit::write;
use nsm_tui::tui::keymap::KeyMap;
use nsm_tui::tui::theme::{Palette, Theme};
use tui_support::{alert, analyzed, tcp};

const A: [u8; 4] = [203, 0, 113, 5];
const V: [u8; 4] = [10, 0, 0, 2];

/// A model with one port-scan incident from A: two alerts, Medium then Low, and the run's
/// grouper that made it.
fn fed() -> (Model, Grouper) {
    let mut m = Model::new(ModelConfig::default());
    let mut g = Grouper::new(300, 100);
    for (n, (ms, sev)) in [(0, Severity::Medium), (1000, Severity::Low)]
        .iter()
        .enumerate()
    {
        let n = u64::try_from(n).unwrap() + 1;
        let f = tcp(*ms, A, V, 40000, 22, b"");
        let ts = f.ts;
        let a = analyzed(n, f, vec![alert(ts, *sev, "port_scan", n)]);
        tui_support::feed(&mut m, &mut g, &a);
    }
    (m, g)
}

fn model() -> Model {
    fed().0
}

fn app() -> App {
    App::new(
        KeyMap::default(),
        Theme {
            palette: Palette::Mono,
        },
        BlockSettings::default(),
        "test",
        false,
    )
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

#[test]
fn model_moves_incidents_and_refuses_what_cannot_be_done() {
    let (mut m, mut g) = fed();
    let id = m.incidents()[0].id;
    assert_eq!(m.incidents()[0].state, IncidentState::New);
    let ack = IncidentEdit::State(IncidentState::Acknowledged);
    m.edit_incident(id, &ack).unwrap();
    assert_eq!(m.incident(id).unwrap().state, IncidentState::Acknowledged);
    let again = m.edit_incident(id, &ack).unwrap_err();
    assert!(again.contains("already acknowledged"), "{again}");
    m.edit_incident(id, &IncidentEdit::Note("  called the owner  ".into()))
        .unwrap();
    assert!(m
        .edit_incident(id, &IncidentEdit::Note("   ".into()))
        .is_err());
    assert_eq!(m.incident(id).unwrap().notes, vec!["called the owner"]);
    m.edit_incident(id, &IncidentEdit::State(IncidentState::Resolved))
        .unwrap();
    assert!(m.edit_incident(999, &ack).unwrap_err().contains("#999"));

    // A higher-severity alert in the same incident reopens it, as the stored incidents do.
    let f = tcp(2000, A, V, 40001, 22, b"");
    let ts = f.ts;
    tui_support::feed(
        &mut m,
        &mut g,
        &analyzed(3, f, vec![alert(ts, Severity::High, "port_scan", 3)]),
    );
    let inc = m.incident(id).unwrap();
    assert_eq!(
        (inc.state, inc.severity, inc.count),
        (IncidentState::New, Severity::High, 3)
    );
}

#[test]
fn keys_act_on_the_incident_pane_selection_only() {
    let m = model();
    let id = m.incidents()[0].id;
    let mut a = app();
    // With the packet table focused, `a` asks for an incident instead of guessing one.
    assert!(a.handle_key(&key('a'), &m).is_empty());
    assert!(a
        .message
        .as_ref()
        .is_some_and(|(t, _)| t.contains("select an incident")));
    a.focus = Focus::Incidents;
    assert_eq!(
        a.handle_key(&key('a'), &m),
        vec![Effect::EditIncident {
            id,
            edit: IncidentEdit::State(IncidentState::Acknowledged)
        }]
    );
    assert_eq!(
        a.handle_key(&key('r'), &m),
        vec![Effect::EditIncident {
            id,
            edit: IncidentEdit::State(IncidentState::Resolved)
        }]
    );
    assert!(a.handle_key(&key('n'), &m).is_empty());
    assert!(matches!(a.overlay, Overlay::Note { incident, .. } if incident == id));
    for c in "ok now".chars() {
        assert!(a.handle_key(&key(c), &m).is_empty());
    }
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(
        a.handle_key(&enter, &m),
        vec![Effect::EditIncident {
            id,
            edit: IncidentEdit::Note("ok now".into())
        }]
    );
    assert_eq!(a.overlay, Overlay::None);
}

#[test]
fn the_writer_changes_the_stored_incident_of_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.db");
    let conn = nsm_tui::respond::setup::open_db(&path).unwrap();
    // The run's grouper made the console's incidents; the store saves the same ones.
    let m = model();
    let rows: Vec<IncidentSave> = m
        .incidents()
        .iter()
        .map(|inc| IncidentSave::of(inc, Change::Opened))
        .collect();
    upsert(&conn, &rows).unwrap();
    let id = m.incidents()[0].id;
    let edits = EditConnection::open(&path).unwrap();
    let out = write(
        &edits,
        id,
        &IncidentEdit::State(IncidentState::Acknowledged),
        0,
    );
    assert!(out.ok, "{}", out.message);
    assert!(
        out.message
            .contains(&format!("incident #{id} acknowledged")),
        "{}",
        out.message
    );
    let out = write(
        &edits,
        id,
        &IncidentEdit::Note("blocked upstream".into()),
        0,
    );
    assert!(out.ok, "{}", out.message);
    let row = get(&conn, i64::try_from(id).unwrap()).unwrap().unwrap();
    assert_eq!(row.state, "acknowledged");
    assert!(row.notes.contains("blocked upstream"), "{}", row.notes);
    // `incidents list` shows it under the same number.
    let listed = nsm_tui::store::incidents::list(&conn, i64::MIN).unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        [i64::try_from(id).unwrap()]
    );
    // Acknowledging twice is refused by the store too, with the reason.
    let out = write(
        &edits,
        id,
        &IncidentEdit::State(IncidentState::Acknowledged),
        0,
    );
    assert!(
        !out.ok && out.message.contains("already"),
        "{}",
        out.message
    );
    // An incident the pipeline has not stored yet is reported, not invented.
    let out = write(
        &edits,
        id + 1,
        &IncidentEdit::State(IncidentState::Resolved),
        0,
    );
    assert!(
        !out.ok && out.message.contains("not in the database yet"),
        "{}",
        out.message
    );
}

#[test]
fn a_late_reputation_alert_joins_its_row_and_an_incident_with_its_score() {
    let (mut m, mut g) = fed();
    let row = m.rows().back().unwrap().clone();
    let a = nsm_tui::engine::record::Analyzed {
        pcap_cnt: row.pcap_cnt,
        frame: row.frame.clone(),
        decoded: row.decoded.clone(),
        alerts: vec![],
        stream_http: Vec::new(),
    };
    let mut late = alert(row.ts(), Severity::High, "reputation", row.pcap_cnt);
    late.explanation = "source 203.0.113.5 has AbuseIPDB confidence 90% from 41 reports \
                        (ISP Example Net, usage Data Center)"
        .into();
    tui_support::feed_late(&mut m, &mut g, &a, &late);
    let r = m.rows().back().unwrap();
    assert_eq!(r.threat.as_ref().map(|t| t.severity), Some(Severity::High));
    assert_eq!(r.alerts.len(), 2);
    let inc = m
        .incidents()
        .iter()
        .find(|i| &*i.category == "reputation")
        .expect("a reputation incident");
    assert_eq!(inc.source, Some(A.into()));
    assert!(inc.alerts[0]
        .explanation
        .contains("confidence 90% from 41 reports"));
    assert!(inc.alerts[0]
        .explanation
        .contains("ISP Example Net, usage Data Center"));
    assert_eq!(m.alerts_by_severity.get(&Severity::High), Some(&1));
}

#[test]
fn a_flush_of_incidents_is_saved_whole_or_not_at_all() {
    use nsm_tui::engine::frame::Ts;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.db");
    let mut conn = nsm_tui::respond::setup::open_db(&path).unwrap();
    let mut g = Grouper::new(300, 100);
    let src = |o: u8| Some(std::net::IpAddr::from([203, 0, 113, o]));
    let t = Ts(1_000_000_000);
    let scan = g.add(&alert(t, Severity::Medium, "port_scan", 1), src(1), None);
    let scan = (scan.0.clone(), scan.1);
    let brute = g.add(&alert(t, Severity::High, "brute_force", 2), src(2), None);
    let brute = (brute.0.clone(), brute.1);
    let batch = [
        IncidentSave::of(&scan.0, scan.1),
        IncidentSave::of(&brute.0, brute.1),
    ];
    let count = |c: &rusqlite::Connection| -> i64 {
        c.query_row("SELECT COUNT(*) FROM incidents", [], |r| r.get(0))
            .unwrap()
    };
    // The second insert fails: the first, already made in the same transaction, goes too.
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON incidents WHEN NEW.category = 'brute_force' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    assert!(save_all(&mut conn, &batch).is_err());
    assert_eq!(count(&conn), 0);
    // Offered again once the database takes it: both saved, the scan as a new row.
    conn.execute_batch("DROP TRIGGER refuse").unwrap();
    save_all(&mut conn, &batch).unwrap();
    assert_eq!(count(&conn), 2);
    // Saved again (an update): still two rows, a person's state kept, an escalation
    // reopening a resolved incident.
    conn.execute_batch("UPDATE incidents SET state = 'resolved'")
        .unwrap();
    save_all(&mut conn, &[IncidentSave::of(&scan.0, Change::Updated)]).unwrap();
    assert_eq!(count(&conn), 2);
    let state = |c: &rusqlite::Connection, cat: &str| -> String {
        c.query_row(
            "SELECT state FROM incidents WHERE category = ?1",
            [cat],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(state(&conn, "port_scan"), "resolved");
    let escalated = IncidentSave::of(&brute.0, Change::Escalated(Severity::Medium));
    save_all(&mut conn, &[escalated]).unwrap();
    assert_eq!(state(&conn, "brute_force"), "new");
}
