//! GeoIP: lookups in `.mmdb` files written by the test (GeoLite2 City layout, ASN layout,
//! ip-location-db layout), scope labels, the cache bound, missing and corrupt files, and the
//! bundled country database.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails by panicking, its helpers (which clippy.toml does not exempt) included"
)]
mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use nsm_tui::config::GeoipConfig;
use nsm_tui::enrich::addr::Scope;
use nsm_tui::enrich::geoip::{Geo, GeoIp, GeoIpError};
use serde_json::{json, Value};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn write_db(dir: &Path, name: &str, db_type: &str, records: &[(&str, Value)]) -> PathBuf {
    let mut w = mmdb_writer::Writer::new(db_type);
    for (net, v) in records {
        w.insert(net.parse::<IpNet>().unwrap(), v).unwrap();
    }
    let p = dir.join(name);
    std::fs::write(&p, w.to_bytes().unwrap()).unwrap();
    p
}

fn city_db(dir: &Path) -> PathBuf {
    write_db(
        dir,
        "city.mmdb",
        "GeoLite2-City",
        &[
            (
                "81.2.69.0/24",
                json!({
                    "city": {"names": {"en": "London", "de": "London"}},
                    "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
                    "location": {"latitude": 51.5142, "longitude": -0.0931}
                }),
            ),
            (
                "2a02:d000::/32",
                json!({"country": {"iso_code": "DE", "names": {"en": "Germany"}}}),
            ),
            // A record that only has the registered country (anycast-style data).
            (
                "1.1.1.0/24",
                json!({"registered_country": {"iso_code": "AU", "names": {"en": "Australia"}}}),
            ),
        ],
    )
}

fn asn_db(dir: &Path) -> PathBuf {
    write_db(
        dir,
        "asn.mmdb",
        "GeoLite2-ASN",
        &[(
            "81.2.64.0/20",
            json!({"autonomous_system_number": 20712u32,
                   "autonomous_system_organization": "Andrews & Arnold Ltd"}),
        )],
    )
}

#[test]
fn city_and_asn_fields_use_logstash_names() {
    let dir = tempfile::tempdir().unwrap();
    let g = GeoIp::open(&city_db(dir.path()), Some(&asn_db(dir.path()))).unwrap();
    assert_eq!(g.database_types(), ["GeoLite2-City", "GeoLite2-ASN"]);
    let found = g.lookup(ip("81.2.69.142"));
    let v = serde_json::to_value(&found).unwrap();
    assert_eq!(v["country_iso_code"], "GB");
    assert_eq!(v["country_name"], "United Kingdom");
    assert_eq!(v["city_name"], "London");
    assert!((v["location"]["lat"].as_f64().unwrap() - 51.5142).abs() < 1e-9);
    assert!((v["location"]["lon"].as_f64().unwrap() + 0.0931).abs() < 1e-9);
    assert_eq!(v["asn"], 20712);
    assert_eq!(v["as_org"], "Andrews & Arnold Ltd");
    assert_eq!(found.label().as_deref(), Some("London, GB"));

    // Outside the city range but inside the ASN range: only the AS fields.
    let v = serde_json::to_value(g.lookup(ip("81.2.70.1"))).unwrap();
    assert_eq!(v, json!({"asn": 20712, "as_org": "Andrews & Arnold Ltd"}));

    let v = serde_json::to_value(g.lookup(ip("2a02:d000::1"))).unwrap();
    assert_eq!(
        v,
        json!({"country_iso_code": "DE", "country_name": "Germany"})
    );
    let v = serde_json::to_value(g.lookup(ip("1.1.1.1"))).unwrap();
    assert_eq!(v["country_iso_code"], "AU");
    assert_eq!(g.lookup(ip("9.9.9.9")), Geo::Unknown);
}

#[test]
fn special_addresses_are_labelled_not_looked_up() {
    let dir = tempfile::tempdir().unwrap();
    // The database claims private space too; a label must win over the record.
    let p = write_db(
        dir.path(),
        "x.mmdb",
        "DBIP-Country-Lite",
        &[("0.0.0.0/0", json!({"country": {"iso_code": "ZZ"}}))],
    );
    let g = GeoIp::open(&p, None).unwrap();
    for (a, want) in [
        ("10.0.0.1", Scope::Private),
        ("192.168.1.1", Scope::Private),
        ("127.0.0.1", Scope::Loopback),
        ("169.254.0.5", Scope::LinkLocal),
        ("239.255.255.250", Scope::Multicast),
        ("fe80::1", Scope::LinkLocal),
    ] {
        assert_eq!(g.lookup(ip(a)), Geo::Scope(want), "{a}");
    }
    assert_eq!(
        serde_json::to_value(g.lookup(ip("10.0.0.1"))).unwrap(),
        json!({"scope": "private"})
    );
    assert_eq!(g.cached(), 0, "labelled addresses are not cached");
    assert_eq!(
        g.lookup(ip("8.8.8.8"))
            .info()
            .unwrap()
            .country_iso_code
            .as_deref(),
        Some("ZZ")
    );
}

#[test]
fn cache_stays_bounded_and_answers_stay_right() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_db(
        dir.path(),
        "c.mmdb",
        "ip-location-db",
        &[
            ("5.0.0.0/8", json!({"country_code": "NL"})),
            ("6.0.0.0/8", json!({"country_code": "US"})),
        ],
    );
    let g = GeoIp::open(&p, None).unwrap().with_cache_generation(100);
    for round in 0..3 {
        for i in 0..1000u32 {
            let a = IpAddr::from([5 + (i % 2) as u8, 1, (i / 256) as u8, (i % 256) as u8]);
            let want = if i % 2 == 0 { "NL" } else { "US" };
            let got = g.lookup(a);
            assert_eq!(
                got.info().and_then(|x| x.country_iso_code.as_deref()),
                Some(want),
                "round {round}, {a}"
            );
            assert!(g.cached() <= 200, "cache holds {}", g.cached());
        }
    }
}

#[test]
fn missing_and_corrupt_files_are_errors_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.mmdb");
    let e = GeoIp::open(&missing, None).unwrap_err();
    assert!(matches!(e, GeoIpError::Missing { .. }));
    assert!(e.to_string().contains("nope.mmdb"), "{e}");

    let bad = dir.path().join("bad.mmdb");
    std::fs::write(&bad, b"this is not a maxmind database at all").unwrap();
    let e = GeoIp::open(&bad, None).unwrap_err();
    assert!(matches!(e, GeoIpError::Corrupt { .. }));
    assert!(e.to_string().contains("bad.mmdb"), "{e}");

    // Through the configuration: an error naming the file, never a quiet fallback.
    let cfg = GeoipConfig {
        city_db: Some(bad.clone()),
        ..GeoipConfig::default()
    };
    let e = GeoIp::from_config(&cfg).unwrap_err();
    assert!(e.to_string().contains("bad.mmdb"), "{e}");

    let cfg = GeoipConfig {
        city_db: Some(city_db(dir.path())),
        asn_db: Some(missing),
        ..GeoipConfig::default()
    };
    let e = GeoIp::from_config(&cfg).unwrap_err();
    assert!(e.to_string().contains("nope.mmdb"), "{e}");

    let off = GeoipConfig {
        enabled: false,
        ..GeoipConfig::default()
    };
    assert!(GeoIp::from_config(&off).unwrap().0.is_none());
}

#[test]
fn bundled_country_database_answers() {
    // Compiled into the binary: no file needed at run time.
    let g = GeoIp::built_in(None).unwrap();
    assert_eq!(g.sources(), [nsm_tui::enrich::geoip::BUILT_IN_NAME]);
    // Well-known allocations that have not moved between registries in decades.
    for (a, cc) in [
        ("8.8.8.8", "US"),
        ("193.0.14.129", "NL"), // k.root-servers.net, RIPE NCC Amsterdam
        ("202.12.27.33", "JP"), // m.root-servers.net, WIDE Tokyo
        ("2001:7fd::1", "NL"),  // k.root-servers.net over IPv6
    ] {
        let got = g.lookup(ip(a));
        assert_eq!(
            got.info().and_then(|x| x.country_iso_code.as_deref()),
            Some(cc),
            "{a}: {got:?}"
        );
    }
    assert_eq!(g.lookup(ip("192.168.0.1")), Geo::Scope(Scope::Private));
}

#[test]
fn unconfigured_geoip_uses_the_installed_database_then_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    let installed = dir.path().join("GeoLite2-City.mmdb");
    let (g, notes) = GeoIp::from_config_with(&GeoipConfig::default(), &installed).unwrap();
    assert_eq!(
        g.unwrap().sources(),
        [nsm_tui::enrich::geoip::BUILT_IN_NAME]
    );
    assert!(notes.iter().any(|n| n.contains("built-in")), "{notes:?}");
    std::fs::copy(city_db(dir.path()), &installed).unwrap();
    let (g, _) = GeoIp::from_config_with(&GeoipConfig::default(), &installed).unwrap();
    assert_eq!(
        g.unwrap().sources(),
        [installed.display().to_string().as_str()]
    );
}

/// A UDP exchange between a private host and a London address, as a pcap file.
fn tiny_capture(path: &Path) {
    use nsm_tui::engine::frame::{LinkType, RawFrame, Ts};
    let mut frames = Vec::new();
    for (i, (src, dst)) in [
        ([10, 0, 0, 7], [81, 2, 69, 142]),
        ([81, 2, 69, 142], [10, 0, 0, 7]),
    ]
    .into_iter()
    .enumerate()
    {
        let b = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
            .ipv4(src, dst, 64)
            .udp(
                if i == 0 { 40000 } else { 123 },
                if i == 0 { 123 } else { 40000 },
            );
        let mut data = Vec::new();
        b.write(&mut data, &[0u8; 48]).unwrap();
        frames.push(RawFrame {
            ts: Ts::from_parts(1_700_000_000 + i as i64, 0),
            linktype: LinkType::ETHERNET,
            iface: 0,
            orig_len: data.len() as u32,
            data,
        });
    }
    nsm_tui::store::write_pcap(path, &frames).unwrap();
}

#[test]
fn read_puts_geoip_in_eve_and_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = city_db(dir.path());
    let pcap = dir.path().join("tiny.pcap");
    tiny_capture(&pcap);
    let eve = dir.path().join("eve.json");
    let db = dir.path().join("p.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nsm-tui"))
        .arg("read")
        .arg(&pcap)
        .arg("--geoip")
        .arg(&db_file)
        .arg("--eve")
        .arg(&eve)
        .arg("--eve-extensions")
        .arg("--db")
        .arg(&db)
        .arg("--no-pcap-log")
        .env_remove("ABUSEIPDB_API_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("city.mmdb"), "{stderr}");
    let flows: Vec<Value> = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event_type"] == "flow")
        .collect();
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!(f["src_geoip"], json!({"scope": "private"}));
    assert_eq!(f["dest_geoip"]["city_name"], "London");
    assert_eq!(f["dest_geoip"]["country_iso_code"], "GB");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let (scope, cc, city): (String, Option<String>, Option<String>) = conn
        .query_row(
            "SELECT scope, country_iso_code, city_name FROM ip_geo WHERE ip = '81.2.69.142'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (scope.as_str(), cc.as_deref(), city.as_deref()),
        ("public", Some("GB"), Some("London"))
    );
    let private: String = conn
        .query_row("SELECT scope FROM ip_geo WHERE ip = '10.0.0.7'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(private, "private");
    let joined: Vec<Option<String>> = conn
        .prepare("SELECT dst_country FROM packets_geo ORDER BY pcap_cnt")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(joined, [Some("GB".to_string()), None]);
}
