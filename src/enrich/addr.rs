//! Address scope: which addresses are worth a GeoIP or reputation lookup. Private, loopback,
//! link-local, multicast and other special-purpose ranges are labelled instead of looked up.
//!
//! Pure; called from whichever thread enriches (the aggregator, the reputation worker).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where an address belongs, as far as enrichment cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Public,
    Private,
    Loopback,
    LinkLocal,
    Multicast,
    /// Unspecified, broadcast, documentation, shared (CGNAT) and other reserved ranges.
    Reserved,
}

impl Scope {
    /// The label written instead of a location (`"private"`, `"loopback"` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Public => "public",
            Scope::Private => "private",
            Scope::Loopback => "loopback",
            Scope::LinkLocal => "link-local",
            Scope::Multicast => "multicast",
            Scope::Reserved => "reserved",
        }
    }

    pub fn is_public(self) -> bool {
        self == Scope::Public
    }
}

/// The scope of `ip`. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
pub fn scope(ip: IpAddr) -> Scope {
    match ip {
        IpAddr::V4(v4) => scope_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => scope_v4(v4),
            None => scope_v6(v6),
        },
    }
}

fn scope_v4(ip: Ipv4Addr) -> Scope {
    let o = ip.octets();
    if ip.is_loopback() {
        Scope::Loopback
    } else if ip.is_private() {
        Scope::Private
    } else if ip.is_link_local() {
        Scope::LinkLocal
    } else if ip.is_multicast() {
        Scope::Multicast
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || o[0] == 0
        || o[0] >= 240
        // 100.64.0.0/10, shared address space (carrier-grade NAT).
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        // 192.0.0.0/24, IETF protocol assignments; 198.18.0.0/15, benchmarking.
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
    {
        Scope::Reserved
    } else {
        Scope::Public
    }
}

fn scope_v6(ip: Ipv6Addr) -> Scope {
    let s = ip.segments();
    if ip.is_loopback() {
        Scope::Loopback
    } else if ip.is_multicast() {
        Scope::Multicast
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Scope::LinkLocal
    } else if (s[0] & 0xfe00) == 0xfc00 {
        // fc00::/7, unique local addresses: the IPv6 private ranges.
        Scope::Private
    } else if ip.is_unspecified() || (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] & 0xe000) != 0x2000
    {
        // Documentation, and everything outside 2000::/3 (the only global unicast block).
        Scope::Reserved
    } else {
        Scope::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(s: &str) -> Scope {
        scope(s.parse().unwrap())
    }

    #[test]
    fn labels_special_ranges_and_keeps_public() {
        assert_eq!(sc("10.1.2.3"), Scope::Private);
        assert_eq!(sc("172.31.255.255"), Scope::Private);
        assert_eq!(sc("172.32.0.1"), Scope::Public);
        assert_eq!(sc("192.168.0.1"), Scope::Private);
        assert_eq!(sc("127.0.0.1"), Scope::Loopback);
        assert_eq!(sc("169.254.1.1"), Scope::LinkLocal);
        assert_eq!(sc("224.0.0.251"), Scope::Multicast);
        assert_eq!(sc("255.255.255.255"), Scope::Reserved);
        assert_eq!(sc("100.64.0.1"), Scope::Reserved);
        assert_eq!(sc("100.128.0.1"), Scope::Public);
        assert_eq!(sc("8.8.8.8"), Scope::Public);
        assert_eq!(sc("::1"), Scope::Loopback);
        assert_eq!(sc("fe80::1"), Scope::LinkLocal);
        assert_eq!(sc("fd00::1"), Scope::Private);
        assert_eq!(sc("ff02::fb"), Scope::Multicast);
        assert_eq!(sc("2001:db8::1"), Scope::Reserved);
        assert_eq!(sc("2606:4700::1111"), Scope::Public);
        assert_eq!(sc("::ffff:10.0.0.1"), Scope::Private);
        assert_eq!(sc("::ffff:1.1.1.1"), Scope::Public);
        assert_eq!(Scope::LinkLocal.as_str(), "link-local");
    }
}
