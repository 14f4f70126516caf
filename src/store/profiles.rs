//! The `profiles` table: what the statistical detectors learned, one row per host plus the
//! all-hosts and whole-network baselines, so that a restart does not start learning again.
//!
//! Saved by the writer thread inside its transaction (`StoreMsg::Profiles`); read on the main
//! thread before a run starts and by `nsm-tui profile show`.

use std::net::IpAddr;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::engine::detect::ml::model::window_schema_hash;
use crate::engine::detect::stats::profile::Profile;
use crate::engine::detect::stats::Learned;

const POPULATION: &str = "population";
const NETWORK: &str = "network";
/// One row holding every destination's fan-in baseline (`stats::fan_in`).
const FAN_IN: &str = "fan_in";

fn schema() -> String {
    format!("{:016x}", window_schema_hash())
}

/// Replace the saved profiles with `l` (profiles no longer tracked are kept: a host evicted
/// from memory keeps what it had learned).
pub fn save(tx: &Transaction<'_>, l: &Learned, now_ns: i64) -> rusqlite::Result<()> {
    let mut st = tx.prepare_cached(
        "INSERT INTO profiles (key, kind, window_schema, windows, profile, updated) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT(key) DO UPDATE SET kind = excluded.kind, \
         window_schema = excluded.window_schema, windows = excluded.windows, \
         profile = excluded.profile, updated = excluded.updated",
    )?;
    let schema = schema();
    let rows = l
        .hosts
        .iter()
        .map(|(ip, p)| (ip.to_string(), "host", p))
        .chain([
            (POPULATION.to_string(), POPULATION, &l.population),
            (NETWORK.to_string(), NETWORK, &l.network),
        ]);
    for (key, kind, p) in rows {
        let json = serde_json::to_string(p).unwrap_or_default();
        let windows = i64::try_from(p.windows).unwrap_or(i64::MAX);
        st.execute(params![key, kind, schema, windows, json, now_ns])?;
    }
    let json = serde_json::to_string(&l.fan_in).unwrap_or_default();
    let windows = i64::try_from(l.fan_in.destinations.n).unwrap_or(i64::MAX);
    st.execute(params![FAN_IN, FAN_IN, schema, windows, json, now_ns])?;
    Ok(())
}

/// Everything saved for this window schema (most learned hosts first, at most `max_hosts`);
/// rows that do not parse are skipped and counted.
pub fn load(conn: &Connection, max_hosts: usize) -> rusqlite::Result<(Learned, usize)> {
    let mut st = conn.prepare(
        "SELECT key, kind, profile FROM profiles WHERE window_schema = ?1 \
         ORDER BY kind, windows DESC",
    )?;
    let mut l = Learned::default();
    let mut bad = 0;
    let rows = st.query_map([schema()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (key, kind, json) = row?;
        if kind == FAN_IN {
            match serde_json::from_str(&json) {
                Ok(f) => l.fan_in = f,
                Err(_) => bad += 1,
            }
            continue;
        }
        let Ok(p) = serde_json::from_str::<Profile>(&json) else {
            bad += 1;
            continue;
        };
        match kind.as_str() {
            POPULATION => l.population = p,
            NETWORK => l.network = p,
            _ => match key.parse::<IpAddr>() {
                Ok(ip) if l.hosts.len() < max_hosts => l.hosts.push((ip, p)),
                Ok(_) => {}
                Err(_) => bad += 1,
            },
        }
    }
    Ok((l, bad))
}

/// One host's saved profile and when it was saved (wall-clock nanoseconds).
pub fn host(conn: &Connection, ip: IpAddr) -> rusqlite::Result<Option<(Profile, i64)>> {
    let row: Option<(String, i64)> = conn
        .query_row(
            "SELECT profile, updated FROM profiles WHERE key = ?1 AND kind = 'host' \
             AND window_schema = ?2",
            params![ip.to_string(), schema()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row.and_then(|(json, t)| serde_json::from_str(&json).ok().map(|p| (p, t))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::features::HostWindow;

    #[test]
    fn saves_and_loads_what_was_learned() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("p.db")).unwrap();
        crate::store::schema::migrate(&mut conn, dir.path(), crate::store::schema::MIGRATIONS)
            .unwrap();
        let mut p = Profile::default();
        p.learn(3, &HostWindow::default(), 0.1);
        let l = Learned {
            hosts: vec![("10.0.0.5".parse().unwrap(), p.clone())],
            population: p.clone(),
            network: Profile::default(),
            fan_in: crate::engine::detect::stats::fan_in::FanInLearned {
                destinations: crate::engine::detect::stats::ewma::Ewma {
                    mean: 1.5,
                    var: 0.25,
                    n: 12,
                },
                own: vec![("10.0.0.9".parse().unwrap(), Default::default())],
            },
        };
        let tx = conn.transaction().unwrap();
        save(&tx, &l, 42).unwrap();
        save(&tx, &l, 43).unwrap();
        tx.commit().unwrap();
        let (back, bad) = load(&conn, 100).unwrap();
        assert_eq!((back, bad), (l, 0));
        let (one, t) = host(&conn, "10.0.0.5".parse().unwrap()).unwrap().unwrap();
        assert_eq!((one, t), (p, 43));
        assert!(host(&conn, "10.0.0.6".parse().unwrap()).unwrap().is_none());
    }
}
