//! JA4, FoxIO's TLS client fingerprint (the `ja4` part of JA4+, BSD-3-Clause):
//! `t13d1516h2_8daaf6152771_e5627efa2ab1` — transport, version, SNI or not, cipher and
//! extension counts, the first ALPN's ends; then the truncated SHA-256 of the sorted ciphers,
//! and of the sorted extensions (SNI and ALPN left out) with the signature algorithms in wire
//! order. GREASE values are left out everywhere.
//!
//! Computed with the ClientHello on an analysis worker; pure.

use sha2::{Digest, Sha256};

use super::tls::{is_grease, TlsRecord};

const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;

/// The JA4 of a ClientHello over TCP.
pub fn ja4(t: &TlsRecord) -> String {
    let ciphers: Vec<u16> = t
        .ciphers
        .iter()
        .copied()
        .filter(|&c| !is_grease(c))
        .collect();
    let exts: Vec<u16> = t
        .extensions
        .iter()
        .copied()
        .filter(|&e| !is_grease(e))
        .collect();
    let version = match t.version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        _ => "00",
    };
    let sni = if t.sni.is_some() { 'd' } else { 'i' };
    let alpn = alpn_ends(t.alpn.first().map(String::as_bytes));
    let mut sorted_ciphers = ciphers.clone();
    sorted_ciphers.sort_unstable();
    let mut sorted_exts: Vec<u16> = exts
        .iter()
        .copied()
        .filter(|&e| e != EXT_SERVER_NAME && e != EXT_ALPN)
        .collect();
    sorted_exts.sort_unstable();
    let mut ext_text = hex_list(&sorted_exts);
    let sig_algs: Vec<u16> = t
        .sig_algs
        .iter()
        .copied()
        .filter(|&s| !is_grease(s))
        .collect();
    if !sig_algs.is_empty() {
        ext_text.push('_');
        ext_text.push_str(&hex_list(&sig_algs));
    }
    format!(
        "t{version}{sni}{:02}{:02}{alpn}_{}_{}",
        ciphers.len().min(99),
        exts.len().min(99),
        truncated_sha256(&hex_list(&sorted_ciphers), sorted_ciphers.is_empty()),
        truncated_sha256(&ext_text, sorted_exts.is_empty()),
    )
}

/// The first and last characters of the first ALPN value (`h2`, `h1` for `http/1.1`); of its
/// hex form when either byte is not alphanumeric; `00` without ALPN.
fn alpn_ends(first: Option<&[u8]>) -> String {
    let Some((&a, &z)) = first.and_then(|p| Some((p.first()?, p.last()?))) else {
        return "00".into();
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        format!("{}{}", char::from(a), char::from(z))
    } else {
        let (ha, hz) = (format!("{a:02x}"), format!("{z:02x}"));
        format!("{}{}", &ha[..1], &hz[1..])
    }
}

/// `0a0b,1301` — four lower-case hex digits each, comma-separated.
fn hex_list(vals: &[u16]) -> String {
    vals.iter()
        .map(|v| format!("{v:04x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The first 12 hex digits of the SHA-256 of `text`; zeros when the list is empty.
fn truncated_sha256(text: &str, empty: bool) -> String {
    if empty {
        return "000000000000".into();
    }
    let mut h = super::hex(&Sha256::digest(text.as_bytes()));
    h.truncate(12);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::applayer::tls::Hello;

    /// FoxIO's published example (Chrome): `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    #[test]
    fn the_published_chrome_example() {
        let ciphers = [
            0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
            0x009c, 0x009d, 0x002f, 0x0035,
        ];
        // Wire order, with GREASE and SNI (0x0000) and ALPN (0x0010) that the hash leaves out.
        let extensions = [
            0x1a1a, 0x0000, 0x0017, 0xff01, 0x000a, 0x000b, 0x0023, 0x0010, 0x0005, 0x000d, 0x0012,
            0x0033, 0x002d, 0x002b, 0x001b, 0x4469, 0x0015, 0x2a2a,
        ];
        let t = TlsRecord {
            hello: Hello::Client,
            legacy_version: 0x0303,
            version: 0x0304,
            sni: Some("example.com".into()),
            ciphers: std::iter::once(0x0a0a).chain(ciphers).collect(),
            extensions: extensions.to_vec(),
            groups: Vec::new(),
            point_formats: Vec::new(),
            alpn: vec!["h2".into(), "http/1.1".into()],
            sig_algs: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            ja3: None,
            ja4: None,
        };
        assert_eq!(ja4(&t), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        // No SNI, no ALPN, TLS 1.2, nothing offered: the zero forms.
        let bare = TlsRecord {
            version: 0x0303,
            sni: None,
            ciphers: Vec::new(),
            extensions: Vec::new(),
            alpn: Vec::new(),
            sig_algs: Vec::new(),
            ..t
        };
        assert_eq!(ja4(&bare), "t12i000000_000000000000_000000000000");
        assert_eq!(alpn_ends(Some(b"\x01ab\xff")), "0f");
    }
}
