//! `nsm-tui incidents list|show|ack|resolve|note`. Main thread of the binary.

use anyhow::bail;
use rusqlite::Connection;

use super::cmd::IncidentsCmd;
use super::incidents::{self, IncidentRow};
use super::setup::now_ns;
use crate::engine::incident::IncidentState;

fn when(ns: i64) -> String {
    let s = ns / 1_000_000_000;
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

fn line(i: &IncidentRow) -> String {
    format!(
        "#{:<5} {:<8} {:<9} {:<12} {:<39} {:<22} {:>6}  {}–{}",
        i.id,
        i.level,
        i.severity,
        i.state,
        i.source,
        i.category,
        i.alert_count,
        when(i.first_seen),
        when(i.last_seen)
    )
}

pub fn run(cmd: IncidentsCmd, conn: &Connection) -> anyhow::Result<()> {
    match cmd {
        IncidentsCmd::List { format } => {
            let rows = incidents::list(conn, i64::MIN)?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<6} {:<8} {:<9} {:<12} {:<39} {:<22} {:>6}  first–last (UTC)",
                    "id", "level", "severity", "state", "source", "category", "alerts"
                );
                for r in &rows {
                    println!("{}", line(r));
                }
            }
            Ok(())
        }
        IncidentsCmd::Show { id } => show(conn, id),
        IncidentsCmd::Ack { id } => change(conn, id, IncidentState::Acknowledged),
        IncidentsCmd::Resolve { id } => change(conn, id, IncidentState::Resolved),
        IncidentsCmd::Note { id, text } => {
            incidents::add_note(conn, id, now_ns(), &text).map_err(anyhow::Error::msg)?;
            println!("note added to incident {id}");
            Ok(())
        }
    }
}

fn change(conn: &Connection, id: i64, to: IncidentState) -> anyhow::Result<()> {
    incidents::set_state(conn, id, to).map_err(anyhow::Error::msg)?;
    println!("incident {id} is now {to}");
    Ok(())
}

fn show(conn: &Connection, id: i64) -> anyhow::Result<()> {
    let Some(i) = incidents::get(conn, id)? else {
        bail!("no incident with id {id}");
    };
    println!("{}", line(&i));
    println!("destinations: {}", i.destinations);
    if !i.notes.is_empty() {
        println!("notes:\n{}", i.notes.trim_end());
    }
    println!(
        "alerts (first {}):",
        i.alert_refs.as_array().map_or(0, Vec::len)
    );
    for a in i.alert_refs.as_array().into_iter().flatten() {
        println!(
            "  {} sid {} packet {} {}",
            when(a["ts"].as_i64().unwrap_or(0)),
            a["signature_id"],
            a["pcap_cnt"],
            a["severity"].as_str().unwrap_or("")
        );
    }
    let mut st = conn.prepare(
        "SELECT id, ts, actor, action, target, outcome FROM actions WHERE incident_id = ?1 ORDER BY id",
    )?;
    let actions = st.query_map([id], |r| {
        Ok(format!(
            "  #{} {} {} {} {} → {}",
            r.get::<_, i64>(0)?,
            when(r.get(1)?),
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?
        ))
    })?;
    println!("actions:");
    for a in actions {
        println!("{}", a?);
    }
    Ok(())
}
