//! TLS ClientHello and ServerHello, read by hand from the first handshake record of a segment:
//! server name, versions, cipher suites, extensions, ALPN, and the JA3 / JA3S strings with
//! their MD5 digests (md-5).
//!
//! Written by hand rather than with tls-parser because JA3 needs every extension type in wire
//! order (unknown and GREASE ones included, GREASE then dropped) and a hello cut by the end of
//! its segment should still give its server name: this reader walks only the two hello
//! layouts, never allocates beyond the lists it keeps, and stops at the first length that
//! points past the bytes it has. JA3 is computed only from a hello whose extensions were all
//! read; a cut one keeps what came before the cut.

use md5::{Digest, Md5};

/// TLS record content type of handshake messages.
pub const CONTENT_HANDSHAKE: u8 = 0x16;
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// Which hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hello {
    Client,
    Server,
}

/// A JA3 or JA3S fingerprint: the comma-separated string and its MD5 in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja3 {
    pub string: String,
    pub hash: String,
}

impl Ja3 {
    fn of(string: String) -> Ja3 {
        let hash = super::hex(&Md5::digest(string.as_bytes()));
        Ja3 { string, hash }
    }
}

/// One hello as far as the segment holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRecord {
    pub hello: Hello,
    /// The hello's own version field (TLS 1.3 keeps 0x0303 there).
    pub legacy_version: u16,
    /// The version the hello stands for: a ServerHello's selected `supported_versions`, a
    /// ClientHello's highest offered one, else the legacy version.
    pub version: u16,
    pub sni: Option<String>,
    /// Offered cipher suites (ClientHello) or the chosen one (ServerHello), GREASE included.
    pub ciphers: Vec<u16>,
    /// Extension types in wire order, GREASE included.
    pub extensions: Vec<u16>,
    pub groups: Vec<u16>,
    pub point_formats: Vec<u8>,
    pub alpn: Vec<String>,
    /// Signature algorithms offered (ClientHello), in wire order, GREASE included.
    pub sig_algs: Vec<u16>,
    /// JA3 (ClientHello) or JA3S (ServerHello); `None` when the hello was cut short.
    pub ja3: Option<Ja3>,
    /// JA4 of a ClientHello; `None` for a ServerHello or a hello cut short.
    pub ja4: Option<String>,
}

/// Suricata's name for a TLS version (`TLS 1.2`, `TLSv1`, `SSLv3`, …).
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "UNDETERMINED",
    }
}

/// GREASE values (RFC 8701): 0x0a0a, 0x1a1a, … 0xfafa, which JA3 leaves out.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// A bounds-checked cursor over the bytes the segment holds.
struct Cur<'a>(&'a [u8]);

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    /// A vector with a `width`-byte length prefix.
    fn vec(&mut self, width: usize) -> Option<&'a [u8]> {
        let n = match width {
            1 => usize::from(self.u8()?),
            _ => usize::from(self.u16()?),
        };
        self.take(n)
    }
}

fn u16s(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

/// The hello a TLS record starting at `payload` carries: a handshake record (type 22, major
/// version 3) whose first message is a ClientHello or ServerHello.
pub fn parse(payload: &[u8]) -> Option<TlsRecord> {
    let mut rec = Cur(payload);
    let (ctype, major, _minor) = (rec.u8()?, rec.u8()?, rec.u8()?);
    if ctype != CONTENT_HANDSHAKE || major != 3 {
        return None;
    }
    let rec_len = usize::from(rec.u16()?);
    let body = &rec.0[..rec.0.len().min(rec_len)];
    let mut hs = Cur(body);
    let kind = match hs.u8()? {
        CLIENT_HELLO => Hello::Client,
        SERVER_HELLO => Hello::Server,
        _ => return None,
    };
    let hs_len = match hs.take(3)? {
        [a, b, c] => (usize::from(*a) << 16) | (usize::from(*b) << 8) | usize::from(*c),
        _ => return None,
    };
    let mut h = Cur(&hs.0[..hs.0.len().min(hs_len)]);
    let legacy_version = h.u16()?;
    if legacy_version >> 8 != 3 {
        return None;
    }
    let mut t = TlsRecord {
        hello: kind,
        legacy_version,
        version: legacy_version,
        sni: None,
        ciphers: Vec::new(),
        extensions: Vec::new(),
        groups: Vec::new(),
        point_formats: Vec::new(),
        alpn: Vec::new(),
        sig_algs: Vec::new(),
        ja3: None,
        ja4: None,
    };
    h.take(32)?;
    h.vec(1)?;
    let complete = match kind {
        Hello::Client => {
            t.ciphers = u16s(h.vec(2)?);
            h.vec(1)?;
            extensions(&mut h, &mut t)
        }
        Hello::Server => {
            t.ciphers = vec![h.u16()?];
            h.u8()?;
            extensions(&mut h, &mut t)
        }
    };
    if complete {
        t.ja3 = Some(Ja3::of(ja3_string(&t)));
        if kind == Hello::Client {
            t.ja4 = Some(super::ja4::ja4(&t));
        }
    }
    Some(t)
}

/// Reads the extension block into `t`; true when every extension was there whole (a hello
/// without extensions included).
fn extensions(h: &mut Cur<'_>, t: &mut TlsRecord) -> bool {
    if h.0.is_empty() {
        return true;
    }
    let Some(len) = h.u16() else { return false };
    let whole = h.0.len() >= usize::from(len);
    let mut e = Cur(&h.0[..h.0.len().min(usize::from(len))]);
    while !e.0.is_empty() {
        let Some(ty) = e.u16() else { return false };
        let Some(data) = e.vec(2) else { return false };
        t.extensions.push(ty);
        extension(ty, data, t);
    }
    whole
}

fn extension(ty: u16, data: &[u8], t: &mut TlsRecord) {
    let mut d = Cur(data);
    match (ty, t.hello) {
        (EXT_SERVER_NAME, Hello::Client) => {
            let Some(list) = d.vec(2) else { return };
            let mut l = Cur(list);
            while let (Some(kind), Some(name)) = (l.u8(), l.vec(2)) {
                if kind == 0 {
                    t.sni = Some(String::from_utf8_lossy(name).into_owned());
                    break;
                }
            }
        }
        (EXT_SIGNATURE_ALGORITHMS, Hello::Client) => {
            t.sig_algs = d.vec(2).map(u16s).unwrap_or_default();
        }
        (EXT_SUPPORTED_GROUPS, _) => t.groups = d.vec(2).map(u16s).unwrap_or_default(),
        (EXT_EC_POINT_FORMATS, _) => t.point_formats = d.vec(1).unwrap_or_default().to_vec(),
        (EXT_ALPN, _) => {
            let Some(list) = d.vec(2) else { return };
            let mut l = Cur(list);
            while let Some(p) = l.vec(1) {
                t.alpn.push(String::from_utf8_lossy(p).into_owned());
            }
        }
        (EXT_SUPPORTED_VERSIONS, Hello::Client) => {
            let offered = d.vec(1).map(u16s).unwrap_or_default();
            if let Some(v) = offered.into_iter().filter(|v| !is_grease(*v)).max() {
                t.version = t.version.max(v);
            }
        }
        (EXT_SUPPORTED_VERSIONS, Hello::Server) => {
            if let Some(v) = d.u16() {
                t.version = v;
            }
        }
        _ => {}
    }
}

/// `a-b-c` of the non-GREASE values, in decimal.
fn dashed<T: Copy + Into<u16>>(vals: &[T]) -> String {
    let mut s = String::new();
    for v in vals.iter().map(|v| (*v).into()).filter(|v| !is_grease(*v)) {
        if !s.is_empty() {
            s.push('-');
        }
        s.push_str(&v.to_string());
    }
    s
}

/// JA3: `version,ciphers,extensions,groups,point_formats`; JA3S: `version,cipher,extensions`.
fn ja3_string(t: &TlsRecord) -> String {
    match t.hello {
        Hello::Client => format!(
            "{},{},{},{},{}",
            t.legacy_version,
            dashed(&t.ciphers),
            dashed(&t.extensions),
            dashed(&t.groups),
            dashed(&t.point_formats)
        ),
        Hello::Server => format!(
            "{},{},{}",
            t.legacy_version,
            dashed(&t.ciphers),
            dashed(&t.extensions)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hex of a string literal split over lines.
    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A ClientHello to www.bing.com from the shared benchmark capture (packet 139644).
    const BING_CLIENT_HELLO: &str = "16030300d0010000cc03036232f3a283070b774544997345ef2249d714ab2821ae0e036d2e6328b33c902c20ce1500000bfd
        a92c84b73fb9faea7d118b05b61a7beaf3301d672d9e9925ca740034c028c027c014c013009f009e00390033009d009c003d
        003c0035002fc02cc02bc024c023c00ac009006a004000380032000a00130100004f00000011000f00000c7777772e62696e
        672e636f6d000500050100000000000a0006000400170018000b00020100000d001400120401050106010201040305030603
        0203020200170000ff01000100";

    /// The first 110 bytes of the server's answer (packet 139646): its ServerHello whole.
    const BING_SERVER_HELLO: &str = "1603031b6b0200005503036232f3a27b53f8b164f496d7161d006ecd116941357ace169885de3a736ddc3b207128000054804be02ed4a5
        5783427975eab1f7de8c582f0bcbd52e21f5f8f77fc02800000d0005000000170000ff010001000b0012c70012c4000d6030820d5c3082";

    #[test]
    fn client_hello_gives_sni_version_and_ja3() {
        let t = parse(&unhex(BING_CLIENT_HELLO)).unwrap();
        assert_eq!(t.hello, Hello::Client);
        assert_eq!(t.sni.as_deref(), Some("www.bing.com"));
        assert_eq!(version_name(t.version), "TLS 1.2");
        assert_eq!(t.ciphers.len(), 26);
        assert_eq!(t.extensions, [0, 5, 10, 11, 13, 23, 65281]);
        let ja3 = t.ja3.unwrap();
        assert_eq!(
            ja3.string,
            "771,49192-49191-49172-49171-159-158-57-51-157-156-61-60-53-47-49196-49195-49188-49187-49162-49161-106-64-56-50-10-19,0-5-10-11-13-23-65281,23-24,0"
        );
        assert_eq!(ja3.hash, "5182f54f9c6e99d117d9dde3fa2b4cff");
    }

    #[test]
    fn server_hello_gives_ja3s() {
        let t = parse(&unhex(BING_SERVER_HELLO)).unwrap();
        assert_eq!(t.hello, Hello::Server);
        assert_eq!(t.ciphers, [49192]);
        let ja3s = t.ja3.unwrap();
        assert_eq!(ja3s.string, "771,49192,5-23-65281");
        assert_eq!(ja3s.hash, "15381d64ba148f31a70eb87b53085230");
    }

    #[test]
    fn a_cut_hello_keeps_its_sni_but_no_ja3() {
        let whole = unhex(BING_CLIENT_HELLO);
        let t = parse(&whole[..whole.len() - 20]).unwrap();
        assert_eq!(t.sni.as_deref(), Some("www.bing.com"));
        assert_eq!(t.ja3, None);
        for n in 0..whole.len() - 20 {
            let _ = parse(&whole[..n]);
        }
    }

    #[test]
    fn grease_is_left_out_of_ja3_and_tls13_is_read_from_supported_versions() {
        // ClientHello: GREASE cipher 0x0a0a then 0x1301; extensions GREASE 0x1a1a (empty) and
        // supported_versions offering GREASE 0x2a2a and 0x0304.
        let hello = unhex(
            "16 0301 0042 01 00003e 0303 0000000000000000000000000000000000000000000000000000000000000000 00 0004 0a0a1301 0100
             0011 1a1a0000 002b0005 04 2a2a 0304 ff010000",
        );
        let t = parse(&hello).unwrap();
        assert_eq!(t.version, 0x0304);
        assert_eq!(version_name(t.version), "TLS 1.3");
        assert_eq!(t.ja3.unwrap().string, "771,4865,43-65281,,");
        assert!(is_grease(0xfafa) && !is_grease(0x0a1a));
    }

    #[test]
    fn other_records_are_not_hellos() {
        assert_eq!(parse(&unhex("17 0303 0005 0102030405")), None);
        assert_eq!(parse(&unhex("16 0303 0004 0b000000")), None);
        assert_eq!(parse(&unhex("16 0203 0004 01000000")), None);
    }
}
