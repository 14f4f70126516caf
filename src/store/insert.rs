//! Row inserts for a write batch: packets, alerts and flows, several rows per `INSERT`
//! statement, so SQLite runs one statement per `ROWS_PER_INSERT` rows instead of one per row
//! (the per-statement work was most of the writer's time).
//!
//! Called by `SqliteStore::write_batch` inside its transaction, on the writer thread.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use rusqlite::types::ToSql;
use rusqlite::{Statement, Transaction};

use super::rows::{AlertRow, FlowRow};
use super::sqlite::int;
use crate::engine::packet::Proto;
use crate::engine::record::PacketRow;

/// Rows bound into one multi-row statement (15 columns × 32 rows stays far below SQLite's
/// 32,766 parameter limit).
const ROWS_PER_INSERT: usize = 32;

const PACKET_COLS: &str = "packets (ts, pcap_cnt, iface, src_ip, dst_ip, src_port, dst_port, \
    proto, length, tcp_flags, payload, flow_id, threat_severity, threat_category, threat_rule)";
const ALERT_COLS: &str = "alerts (ts, signature_id, description, severity, category, \
    detector, pcap_cnt, flow_id, src_ip, dst_ip, src_port, dst_port, proto, explanation, \
    evidence)";
const FLOW_COLS: &str = "flows (flow_id, community_id, proto, src_ip, src_port, dst_ip, \
    dst_port, pkts_toserver, pkts_toclient, bytes_toserver, bytes_toclient, state, \
    first_seen, last_seen, end_reason)";
/// Every table above has this many columns.
const COLS: usize = 15;

/// `INSERT OR FAIL INTO <cols> VALUES (?, …), …` for `rows` rows.
///
/// `OR FAIL` rather than the default `ABORT`: an aborting multi-row statement must be able to
/// undo its own earlier rows, so SQLite keeps a statement journal of every page it touches
/// (a seventh of the writer's time). A failed batch is rolled back whole by the caller's
/// transaction anyway.
fn sql(cols: &str, rows: usize) -> String {
    let one = format!("({})", vec!["?"; COLS].join(","));
    format!(
        "INSERT OR FAIL INTO {cols} VALUES {}",
        vec![one; rows].join(",")
    )
}

/// Insert `rows` in statements of `ROWS_PER_INSERT` rows (the rest one statement more);
/// `bind` gives one row's values in column order.
fn insert_all<R>(
    tx: &Transaction<'_>,
    cols: &str,
    rows: &[R],
    mut bind: impl FnMut(&R, &mut dyn FnMut(&dyn ToSql) -> rusqlite::Result<()>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
    if chunks.len() > 0 {
        let mut stmt = tx.prepare_cached(&sql(cols, ROWS_PER_INSERT))?;
        for chunk in chunks.by_ref() {
            bind_chunk(&mut stmt, chunk, &mut bind)?;
            stmt.raw_execute()?;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut stmt = tx.prepare_cached(&sql(cols, rest.len()))?;
        bind_chunk(&mut stmt, rest, &mut bind)?;
        stmt.raw_execute()?;
    }
    Ok(())
}

fn bind_chunk<R>(
    stmt: &mut Statement<'_>,
    chunk: &[R],
    bind: &mut impl FnMut(
        &R,
        &mut dyn FnMut(&dyn ToSql) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut i = 0;
    for r in chunk {
        bind(r, &mut |v| {
            i += 1;
            stmt.raw_bind_parameter(i, v)
        })?;
    }
    Ok(())
}

/// An address as text, formatted into a reused buffer (no allocation per row).
#[derive(Default)]
struct IpBuf(String);

impl IpBuf {
    fn set(&mut self, ip: Option<IpAddr>) -> Option<&str> {
        let ip = ip?;
        self.0.clear();
        match ip {
            IpAddr::V4(v4) => {
                // Dotted quad by hand: `Display` goes through the formatting machinery.
                for (n, o) in v4.octets().into_iter().enumerate() {
                    if n > 0 {
                        self.0.push('.');
                    }
                    if o >= 100 {
                        self.0.push(char::from(b'0' + o / 100));
                    }
                    if o >= 10 {
                        self.0.push(char::from(b'0' + o / 10 % 10));
                    }
                    self.0.push(char::from(b'0' + o % 10));
                }
            }
            // Writing to a String cannot fail.
            IpAddr::V6(v6) => drop(write!(self.0, "{v6}")),
        }
        Some(&self.0)
    }
}

/// `Proto::name` without allocating for the protocols nearly every packet has.
fn proto_text(p: Proto) -> Cow<'static, str> {
    match p {
        Proto::Tcp => Cow::Borrowed("tcp"),
        Proto::Udp => Cow::Borrowed("udp"),
        Proto::Icmp => Cow::Borrowed("icmp"),
        Proto::Icmpv6 => Cow::Borrowed("ipv6-icmp"),
        Proto::Arp => Cow::Borrowed("arp"),
        other => Cow::Owned(other.name()),
    }
}

pub(super) fn packets(tx: &Transaction<'_>, rows: &[PacketRow]) -> rusqlite::Result<()> {
    let (mut src, mut dst) = (IpBuf::default(), IpBuf::default());
    insert_all(tx, PACKET_COLS, rows, |r, put| {
        let threat = r.threat.as_ref();
        put(&r.ts.0)?;
        put(&int(r.pcap_cnt))?;
        put(&&*r.iface)?;
        put(&src.set(r.src))?;
        put(&dst.set(r.dst))?;
        put(&r.src_port)?;
        put(&r.dst_port)?;
        put(&proto_text(r.proto))?;
        put(&r.length)?;
        put(&r.tcp_flags)?;
        put(&r.payload)?;
        put(&r.flow_id.map(int))?;
        put(&threat.map(|t| t.severity.as_str()))?;
        put(&threat.map(|t| &*t.category))?;
        put(&threat.map(|t| int(t.rule.0)))
    })
}

pub(super) fn alerts(tx: &Transaction<'_>, rows: &[AlertRow]) -> rusqlite::Result<()> {
    let (mut src, mut dst) = (IpBuf::default(), IpBuf::default());
    insert_all(tx, ALERT_COLS, rows, |r, put| {
        let a = &r.alert;
        put(&a.ts.0)?;
        put(&int(a.rule.0))?;
        put(&&*a.description)?;
        put(&a.severity.as_str())?;
        put(&&*a.category)?;
        put(&a.detector.as_str())?;
        put(&int(a.packet))?;
        put(&a.flow_id.map(int))?;
        put(&src.set(r.src))?;
        put(&dst.set(r.dst))?;
        put(&r.src_port)?;
        put(&r.dst_port)?;
        put(&proto_text(r.proto))?;
        put(&a.explanation)?;
        put(&r.evidence)
    })
}

pub(super) fn flows(tx: &Transaction<'_>, rows: &[FlowRow]) -> rusqlite::Result<()> {
    let (mut src, mut dst) = (IpBuf::default(), IpBuf::default());
    insert_all(tx, FLOW_COLS, rows, |f, put| {
        put(&int(f.flow_id))?;
        put(&f.community_id)?;
        put(&proto_text(f.proto))?;
        put(&src.set(Some(f.src)))?;
        put(&f.src_port)?;
        put(&dst.set(Some(f.dst)))?;
        put(&f.dst_port)?;
        put(&int(f.pkts_toserver))?;
        put(&int(f.pkts_toclient))?;
        put(&int(f.bytes_toserver))?;
        put(&int(f.bytes_toclient))?;
        put(&f.state)?;
        put(&f.first_ts.0)?;
        put(&f.last_ts.0)?;
        put(&f.reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_quad_matches_display() {
        let mut b = IpBuf::default();
        for ip in [
            "0.0.0.0",
            "10.1.20.255",
            "192.168.100.9",
            "255.255.255.255",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(b.set(Some(ip)), Some(ip.to_string().as_str()));
        }
        assert_eq!(b.set(None), None);
    }

    #[test]
    fn statement_text_has_one_group_per_row() {
        let s = sql(FLOW_COLS, 3);
        assert_eq!(s.matches('?').count(), 3 * COLS);
        assert_eq!(s.matches("),(").count(), 2);
    }
}
