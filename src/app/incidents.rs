//! `nsm-tui incidents list|show|ack|resolve|note`. Main thread of the binary.

use crate::engine::text::printable;
use anyhow::bail;

use super::out::outln;
use rusqlite::Connection;

use super::respond::IncidentsCmd;
use crate::engine::incident::IncidentState;
use crate::respond::setup::now_ns;
use crate::store::incidents::{self, IncidentRow};

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
        printable(&i.source),
        printable(&i.category),
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
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                outln!(
                    "{:<6} {:<8} {:<9} {:<12} {:<39} {:<22} {:>6}  first–last (UTC)",
                    "id",
                    "level",
                    "severity",
                    "state",
                    "source",
                    "category",
                    "alerts"
                );
                for r in &rows {
                    outln!("{}", line(r));
                }
            }
            Ok(())
        }
        IncidentsCmd::Show { id } => show(conn, id),
        IncidentsCmd::Ack { id } => change(conn, id, IncidentState::Acknowledged),
        IncidentsCmd::Resolve { id } => change(conn, id, IncidentState::Resolved),
        IncidentsCmd::Note { id, text } => {
            incidents::add_note(conn, id, now_ns(), &text).map_err(anyhow::Error::msg)?;
            outln!("note added to incident {id}");
            Ok(())
        }
    }
}

fn change(conn: &Connection, id: i64, to: IncidentState) -> anyhow::Result<()> {
    incidents::set_state(conn, id, to).map_err(anyhow::Error::msg)?;
    outln!("incident {id} is now {to}");
    Ok(())
}

fn show(conn: &Connection, id: i64) -> anyhow::Result<()> {
    let Some(i) = incidents::get(conn, id)? else {
        bail!("no incident with id {id}");
    };
    outln!("{}", line(&i));
    outln!("destinations: {}", i.destinations);
    if !i.notes.is_empty() {
        // One note a line; whatever a note holds is shown escaped, never as a line of its own.
        outln!("notes:");
        for n in i.notes.trim_end().lines() {
            outln!("{}", printable(n));
        }
    }
    outln!(
        "alerts (first {}):",
        i.alert_refs.as_array().map_or(0, Vec::len)
    );
    for a in i.alert_refs.as_array().into_iter().flatten() {
        outln!(
            "  {} sid {} packet {} {}",
            when(a["ts"].as_i64().unwrap_or(0)),
            a["signature_id"],
            a["pcap_cnt"],
            a["severity"].as_str().unwrap_or("")
        );
    }
    outln!("actions:");
    for a in incidents::actions_of(conn, id)? {
        outln!(
            "  #{} {} {} {} {} → {}",
            a.id,
            when(a.ts),
            printable(&a.actor),
            printable(&a.action),
            printable(&a.target),
            printable(&a.outcome)
        );
    }
    Ok(())
}
