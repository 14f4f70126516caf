//! The console's display filter language, parsed into a predicate over retained packets.
//!
//! `tcp`, `udp port 53`, `src 10.0.0.5`, `dst host ::1`, `net 10.0.0.0/8`, `port 80`,
//! `sev>=high`, `alert`, `dns`, `arp`, `icmp`, `http`, `tls`, `ssh`, `host example.com` (the
//! HTTP request's `Host`), `sni example.com` (a TLS ClientHello's server name), combined with `and`/`or`/`not` (also `&&`,
//! `||`, `!`) and parentheses; juxtaposed terms mean `and`, as in BPF. Parsed on the UI thread
//! as the user types; errors carry the character position and the reason. Pure.

use std::fmt;
use std::net::IpAddr;

use super::alert::Severity;
use super::applayer::AppKind;
use super::model::Row;
use super::packet::Proto;

/// Which end of a packet an address or port term looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Src,
    Dst,
    Either,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

/// One primitive of the language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Tcp,
    Udp,
    /// ICMP and ICMPv6.
    Icmp,
    Arp,
    Dns,
    /// The packet raised at least one alert.
    Alert,
    Host(Dir, IpAddr),
    Net(Dir, IpAddr, u8),
    Port(Dir, u16),
    Sev(Cmp, Severity),
    Http,
    Tls,
    Ssh,
    /// An HTTP request whose `Host` is this name or a subdomain of it (port ignored).
    HttpHost(String),
    /// A TLS ClientHello whose server name is this name or a subdomain of it.
    Sni(String),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Term(Term),
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// Why a filter does not parse, and where (0-based character position).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {pos}: {reason}")]
pub struct FilterError {
    pub pos: usize,
    pub reason: String,
}

fn err<T>(pos: usize, reason: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError {
        pos,
        reason: reason.into(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Op(Cmp),
    LParen,
    RParen,
    And,
    Or,
    Not,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-')
}

fn lex(s: &str) -> Result<Vec<(usize, Tok)>, FilterError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let (tok, len) = match (c, next) {
            (c, _) if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            ('&', Some('&')) => (Tok::And, 2),
            ('|', Some('|')) => (Tok::Or, 2),
            ('!', Some('=')) => return err(i, "`!=` is not supported; write `not sev=…`"),
            ('!', _) => (Tok::Not, 1),
            ('>', Some('=')) => (Tok::Op(Cmp::Ge), 2),
            ('<', Some('=')) => (Tok::Op(Cmp::Le), 2),
            ('=', Some('=')) => (Tok::Op(Cmp::Eq), 2),
            ('>', _) => (Tok::Op(Cmp::Gt), 1),
            ('<', _) => (Tok::Op(Cmp::Lt), 1),
            ('=', _) => (Tok::Op(Cmp::Eq), 1),
            (c, _) if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                let w: String = chars[start..i].iter().collect::<String>().to_lowercase();
                let tok = match w.as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    _ => Tok::Word(w),
                };
                out.push((start, tok));
                continue;
            }
            (c, _) => return err(i, format!("unexpected character {c:?}")),
        };
        out.push((i, tok));
        i += len;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.1)
    }
    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |t| t.0)
    }
    fn bump(&mut self) -> Option<(usize, Tok)> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        loop {
            match self.peek() {
                Some(Tok::And) => self.at += 1,
                // Juxtaposition is `and`, so `udp port 53` reads as in BPF.
                Some(Tok::Word(_) | Tok::Not | Tok::LParen) => {}
                _ => return Ok(left),
            }
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        let pos = self.pos();
        match self.bump() {
            Some((_, Tok::Not)) => Ok(Filter::Not(Box::new(self.unary()?))),
            Some((_, Tok::LParen)) => {
                let inner = self.or()?;
                match self.bump() {
                    Some((_, Tok::RParen)) => Ok(inner),
                    _ => err(pos, "unclosed `(`"),
                }
            }
            Some((p, Tok::Word(w))) => self.primitive(p, &w).map(Filter::Term),
            Some((p, Tok::RParen)) => err(p, "unexpected `)`"),
            Some((p, _)) => err(
                p,
                "expected a term (tcp, port 53, src 10.0.0.5, sev>=high …)",
            ),
            None => err(pos, "expected a term after this"),
        }
    }

    fn word(&mut self, what: &str) -> Result<(usize, String), FilterError> {
        let pos = self.pos();
        match self.bump() {
            Some((p, Tok::Word(w))) => Ok((p, w)),
            _ => err(pos, format!("expected {what}")),
        }
    }

    fn primitive(&mut self, pos: usize, w: &str) -> Result<Term, FilterError> {
        Ok(match w {
            "tcp" => Term::Tcp,
            "udp" => Term::Udp,
            "icmp" | "icmp6" | "icmpv6" => Term::Icmp,
            "arp" => Term::Arp,
            "dns" => Term::Dns,
            "http" => Term::Http,
            "tls" | "ssl" => Term::Tls,
            "ssh" => Term::Ssh,
            "sni" => Term::Sni(self.word("a server name such as example.com")?.1),
            "alert" | "alerts" => Term::Alert,
            "src" => self.directed(Dir::Src)?,
            "dst" => self.directed(Dir::Dst)?,
            "host" => self.host(Dir::Either)?,
            "net" => self.net(Dir::Either)?,
            "port" => self.port(Dir::Either)?,
            "sev" | "severity" => self.sev()?,
            other => {
                if other.parse::<IpAddr>().is_ok() {
                    return Ok(Term::Host(Dir::Either, parse_ip(pos, other)?));
                }
                return err(pos, format!("unknown term {other:?}"));
            }
        })
    }

    fn directed(&mut self, dir: Dir) -> Result<Term, FilterError> {
        match self.peek() {
            Some(Tok::Word(w)) if w == "host" => {
                self.at += 1;
                self.host(dir)
            }
            Some(Tok::Word(w)) if w == "net" => {
                self.at += 1;
                self.net(dir)
            }
            Some(Tok::Word(w)) if w == "port" => {
                self.at += 1;
                self.port(dir)
            }
            _ => self.host(dir),
        }
    }

    fn host(&mut self, dir: Dir) -> Result<Term, FilterError> {
        let (p, w) = self.word("an address or a host name")?;
        if is_name(&w) {
            if dir != Dir::Either {
                return err(p, format!("{w:?} is a name: `host NAME` matches the HTTP Host, which has no src or dst"));
            }
            return Ok(Term::HttpHost(w));
        }
        if w.contains('/') {
            let (ip, len) = parse_net(p, &w)?;
            return Ok(Term::Net(dir, ip, len));
        }
        Ok(Term::Host(dir, parse_ip(p, &w)?))
    }

    fn net(&mut self, dir: Dir) -> Result<Term, FilterError> {
        let (p, w) = self.word("a network such as 10.0.0.0/8")?;
        let (ip, len) = parse_net(p, &w)?;
        Ok(Term::Net(dir, ip, len))
    }

    fn port(&mut self, dir: Dir) -> Result<Term, FilterError> {
        let (p, w) = self.word("a port number")?;
        match w.parse::<u16>() {
            Ok(n) => Ok(Term::Port(dir, n)),
            Err(_) => err(p, format!("{w:?} is not a port (0-65535)")),
        }
    }

    fn sev(&mut self) -> Result<Term, FilterError> {
        let pos = self.pos();
        let Some((_, Tok::Op(cmp))) = self.bump() else {
            return err(pos, "expected >=, >, =, <= or < after sev");
        };
        let (p, w) = self.word("a severity (low, medium, high, critical)")?;
        match w.parse::<Severity>() {
            Ok(s) => Ok(Term::Sev(cmp, s)),
            Err(_) => err(
                p,
                format!("unknown severity {w:?} (low, medium, high, critical)"),
            ),
        }
    }
}

/// A word that is a host name rather than an address: it has a letter outside a hex-only
/// IPv6 form, and no `:` or `/`.
fn is_name(w: &str) -> bool {
    !w.contains([':', '/'])
        && w.parse::<IpAddr>().is_err()
        && w.bytes().any(|b| b.is_ascii_alphabetic())
}

/// `name` (case-insensitively, without a `:port`) is `pattern` or a subdomain of it.
fn name_matches(name: &str, pattern: &str) -> bool {
    let name = match name.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => name,
    };
    let name = name.trim_end_matches('.');
    name.eq_ignore_ascii_case(pattern)
        || name.len() > pattern.len()
            && name.as_bytes()[name.len() - pattern.len() - 1] == b'.'
            && name[name.len() - pattern.len()..].eq_ignore_ascii_case(pattern)
}

fn parse_ip(pos: usize, w: &str) -> Result<IpAddr, FilterError> {
    w.parse::<IpAddr>()
        .or_else(|_| err(pos, format!("{w:?} is not an IP address")))
}

fn parse_net(pos: usize, w: &str) -> Result<(IpAddr, u8), FilterError> {
    let (addr, len) = w.split_once('/').unwrap_or((w, ""));
    let ip = parse_ip(pos, addr)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = if len.is_empty() {
        max
    } else {
        match len.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return err(pos, format!("bad prefix length in {w:?} (0-{max})")),
        }
    };
    Ok((ip, len))
}

/// Parse a filter; an empty (or all-blank) string is `Ok(None)`, meaning "show everything".
pub fn parse(s: &str) -> Result<Option<Filter>, FilterError> {
    let toks = lex(s)?;
    if toks.is_empty() {
        return Ok(None);
    }
    let mut p = Parser {
        toks,
        at: 0,
        end: s.chars().count(),
    };
    let f = p.or()?;
    if let Some((pos, _)) = p.toks.get(p.at) {
        return err(*pos, "unexpected `)`");
    }
    Ok(Some(f))
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn either<T: Copy>(dir: Dir, src: Option<T>, dst: Option<T>, f: impl Fn(T) -> bool) -> bool {
    let s = || src.is_some_and(&f);
    let d = || dst.is_some_and(&f);
    match dir {
        Dir::Src => s(),
        Dir::Dst => d(),
        Dir::Either => s() || d(),
    }
}

impl Term {
    pub fn matches(&self, r: &Row) -> bool {
        match self {
            Term::Tcp => r.proto() == Proto::Tcp,
            Term::Udp => r.proto() == Proto::Udp,
            Term::Icmp => matches!(r.proto(), Proto::Icmp | Proto::Icmpv6),
            Term::Arp => r.proto() == Proto::Arp,
            Term::Dns => r.is_dns(),
            Term::Alert => !r.alerts.is_empty(),
            Term::Host(d, ip) => either(*d, r.src(), r.dst(), |a| a == *ip),
            Term::Net(d, ip, len) => either(*d, r.src(), r.dst(), |a| in_net(a, *ip, *len)),
            Term::Port(d, p) => {
                let ports = r.ports();
                either(*d, ports.map(|x| x.0), ports.map(|x| x.1), |a| a == *p)
            }
            Term::Http => r.app_kind() == Some(AppKind::Http),
            Term::Tls => r.app_kind() == Some(AppKind::Tls),
            Term::Ssh => r.app_kind() == Some(AppKind::Ssh),
            Term::HttpHost(h) => r
                .decoded
                .app
                .as_ref()
                .and_then(|a| a.http_host())
                .is_some_and(|n| name_matches(n, h)),
            Term::Sni(h) => r
                .decoded
                .app
                .as_ref()
                .and_then(|a| a.sni())
                .is_some_and(|n| name_matches(n, h)),
            Term::Sev(cmp, s) => r.severity().is_some_and(|v| match cmp {
                Cmp::Lt => v < *s,
                Cmp::Le => v <= *s,
                Cmp::Eq => v == *s,
                Cmp::Ge => v >= *s,
                Cmp::Gt => v > *s,
            }),
        }
    }
}

impl Filter {
    pub fn matches(&self, r: &Row) -> bool {
        match self {
            Filter::Term(t) => t.matches(r),
            Filter::Not(f) => !f.matches(r),
            Filter::And(a, b) => a.matches(r) && b.matches(r),
            Filter::Or(a, b) => a.matches(r) || b.matches(r),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Term(t) => write!(f, "{t:?}"),
            Filter::Not(x) => write!(f, "not ({x})"),
            Filter::And(a, b) => write!(f, "({a} and {b})"),
            Filter::Or(a, b) => write!(f, "({a} or {b})"),
        }
    }
}
