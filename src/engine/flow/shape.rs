//! The shape of a flow's packets beyond its counters: the spread of packet sizes, the gaps
//! between packets, TCP flag counts, the entropy of the first payload and the longest DNS name —
//! the per-flow features the learning detectors read when the flow ends.
//!
//! Updated by the flow table on the aggregator thread: a few additions per packet, and one
//! entropy computation per flow over at most `ENTROPY_BYTES` bytes of its first payload, and
//! one per DNS name longer than the longest before.

use super::super::packet::{DnsInfo, TcpFlags};

/// Bytes of the first payload whose entropy is kept.
pub const ENTROPY_BYTES: usize = 64;

/// Running sums over a flow's packets (both directions together).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FlowShape {
    /// Sum of the squared wire lengths (with the flow's bytes and packets: mean and spread).
    pub size_sq: f64,
    /// Sum and sum of squares of the gaps between consecutive packets, in seconds.
    pub gap_sum: f64,
    pub gap_sq: f64,
    /// Packets with SYN, FIN, RST and PSH set.
    pub syn: u32,
    pub fin: u32,
    pub rst: u32,
    pub psh: u32,
    /// Shannon entropy (bits per byte, 0–8) of the first bytes of the first payload seen.
    pub entropy: Option<f32>,
    /// The longest DNS question name seen in the flow, summed up (a tunnel over one flow
    /// opens with short handshake names; its data rides in the long ones).
    pub dns_name: Option<DnsName>,
}

/// A DNS question name as the flow features see it: long, many-labelled, random-looking
/// names are what data carried in DNS (tunnels, exfiltration) looks like.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DnsName {
    /// Characters, dots included.
    pub len: u16,
    pub labels: u8,
    /// Shannon entropy of the name's characters, dots left out (bits per character).
    pub entropy: f32,
}

impl DnsName {
    pub fn of(name: &str) -> DnsName {
        let name = name.trim_end_matches('.');
        let chars: Vec<u8> = name
            .bytes()
            .filter(|&b| b != b'.')
            .map(|b| b.to_ascii_lowercase())
            .collect();
        DnsName {
            len: u16::try_from(name.len()).unwrap_or(u16::MAX),
            labels: u8::try_from(name.split('.').filter(|l| !l.is_empty()).count())
                .unwrap_or(u8::MAX),
            entropy: entropy(&chars),
        }
    }
}

impl FlowShape {
    /// Account one packet: `gap` since the flow's previous packet (none for the first),
    /// its wire length, its TCP flags and its payload.
    pub fn observe(
        &mut self,
        gap: Option<f64>,
        wire_len: u32,
        tcp: Option<TcpFlags>,
        payload: &[u8],
    ) {
        let len = f64::from(wire_len);
        self.size_sq += len * len;
        if let Some(g) = gap {
            self.gap_sum += g;
            self.gap_sq += g * g;
        }
        if let Some(f) = tcp {
            self.syn += u32::from(f.has(TcpFlags::SYN));
            self.fin += u32::from(f.has(TcpFlags::FIN));
            self.rst += u32::from(f.has(TcpFlags::RST));
            self.psh += u32::from(f.has(TcpFlags::PSH));
        }
        if self.entropy.is_none() && !payload.is_empty() {
            self.entropy = Some(entropy(&payload[..payload.len().min(ENTROPY_BYTES)]));
        }
    }

    /// Account a packet's DNS message: the longest question name of the flow is kept.
    pub fn observe_dns(&mut self, dns: Option<&DnsInfo>) {
        let Some(q) = dns.and_then(|m| m.questions.first()) else {
            return;
        };
        let len = q.name.trim_end_matches('.').len();
        if self.dns_name.is_none_or(|n| len > usize::from(n.len)) {
            self.dns_name = Some(DnsName::of(&q.name));
        }
    }
}

/// Shannon entropy of `bytes` in bits per byte (0 for empty input; at most 8, and at most
/// log2(len) for short input).
pub fn entropy(bytes: &[u8]) -> f32 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u16; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    h as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_inputs() {
        assert_eq!(entropy(b""), 0.0);
        assert_eq!(entropy(b"aaaaaaaa"), 0.0);
        assert!((entropy(b"abababab") - 1.0).abs() < 1e-6);
        let all: Vec<u8> = (0..=255).collect();
        assert!((entropy(&all) - 8.0).abs() < 1e-5);
    }

    #[test]
    fn sums_and_flags_accumulate() {
        let mut s = FlowShape::default();
        s.observe(None, 60, Some(TcpFlags(TcpFlags::SYN)), b"");
        s.observe(
            Some(0.5),
            100,
            Some(TcpFlags(TcpFlags::ACK | TcpFlags::PSH)),
            b"hello",
        );
        s.observe(Some(1.5), 40, Some(TcpFlags(TcpFlags::RST)), b"zz");
        assert_eq!(s.size_sq, 60.0 * 60.0 + 100.0 * 100.0 + 40.0 * 40.0);
        assert_eq!((s.gap_sum, s.gap_sq), (2.0, 0.25 + 2.25));
        assert_eq!((s.syn, s.psh, s.rst, s.fin), (1, 1, 1, 0));
        // The first payload's entropy, not a later one's.
        assert_eq!(s.entropy, Some(entropy(b"hello")));
    }
}
