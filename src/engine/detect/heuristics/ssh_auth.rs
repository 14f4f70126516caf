//! SSH login attempts inferred inside the encrypted part of one connection, from the sizes of
//! its TCP segments, after the idea of Zeek's SSH analyzer.
//!
//! Each side's stream is followed in cleartext (identification line, then binary packets by
//! their length fields) until that side's `SSH_MSG_NEWKEYS`; what follows is encrypted and only
//! its segment sizes are read. Once the client has sent encrypted data, the server's first
//! encrypted reply is taken as `SERVICE_ACCEPT`, its next one (skipping one banner far larger)
//! as the size of a `USERAUTH_FAILURE`; every later reply of that size is one more failed
//! attempt, and a reply smaller than `SERVICE_ACCEPT` is `USERAUTH_SUCCESS` (a 1-byte message),
//! after which nothing more is inferred. The first failure is the reply to the `none` request
//! clients send first to learn the methods, so it is not counted. Client segments between
//! `SERVICE_ACCEPT` and the decision are its authentication requests. Segments are taken in
//! sequence order: a retransmission is skipped, a gap ends the inference for that side.

/// Largest binary packet length RFC 4253 obliges an implementation to accept, with margin.
const MAX_PACKET: u32 = 256 * 1024;
/// An identification line longer than this (with the lines before it) is no SSH.
const MAX_BANNER: usize = 8 * 1024;
/// A server reply this much larger than `SERVICE_ACCEPT` before any failure is a login banner.
const BANNER_EXTRA: usize = 256;
const MSG_NEWKEYS: u8 = 21;

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Before the end of the identification line; bytes seen so far.
    Banner(usize),
    /// Cleartext binary packets: header bytes gathered (up to 6) and bytes left to skip.
    Packets { hdr: Vec<u8>, skip: usize },
    /// Inside this side's `NEWKEYS`, split over segments: its bytes still to come.
    NewKeys(usize),
    /// After this side's `NEWKEYS`.
    Encrypted,
    /// The stream could not be followed (a gap or no SSH).
    Lost,
}

#[derive(Debug, Clone)]
struct Side {
    next_seq: Option<u32>,
    phase: Phase,
}

impl Side {
    fn new() -> Self {
        Side {
            next_seq: None,
            phase: Phase::Banner(0),
        }
    }

    /// The number of encrypted bytes this in-order segment carries, if any.
    fn take(&mut self, seq: u32, payload: &[u8]) -> usize {
        if payload.is_empty() {
            return 0;
        }
        if let Some(want) = self.next_seq {
            let ahead = seq.wrapping_sub(want) as i32;
            if ahead < 0 {
                return 0; // a retransmission
            }
            if ahead > 0 {
                self.phase = Phase::Lost;
            }
        }
        self.next_seq = Some(seq.wrapping_add(payload.len() as u32));
        let mut rest = payload;
        loop {
            match &mut self.phase {
                Phase::Lost => return 0,
                Phase::Encrypted => return rest.len(),
                Phase::NewKeys(left) => {
                    let n = (*left).min(rest.len());
                    *left -= n;
                    rest = &rest[n..];
                    if *left > 0 {
                        return 0;
                    }
                    self.phase = Phase::Encrypted;
                }
                Phase::Banner(seen) => {
                    let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                        *seen += rest.len();
                        if *seen > MAX_BANNER {
                            self.phase = Phase::Lost;
                        }
                        return 0;
                    };
                    let line = &rest[..nl];
                    *seen += nl + 1;
                    rest = &rest[nl + 1..];
                    if line.starts_with(b"SSH-") {
                        self.phase = Phase::Packets {
                            hdr: Vec::new(),
                            skip: 0,
                        };
                    } else if *seen > MAX_BANNER {
                        self.phase = Phase::Lost;
                    }
                }
                Phase::Packets { hdr, skip } => {
                    if rest.is_empty() {
                        return 0;
                    }
                    if *skip > 0 {
                        let n = (*skip).min(rest.len());
                        *skip -= n;
                        rest = &rest[n..];
                        continue;
                    }
                    let n = (6 - hdr.len()).min(rest.len());
                    hdr.extend_from_slice(&rest[..n]);
                    rest = &rest[n..];
                    if hdr.len() < 6 {
                        return 0;
                    }
                    let len = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
                    if !(12..=MAX_PACKET).contains(&len) {
                        self.phase = Phase::Lost;
                        return 0;
                    }
                    let left = len as usize + 4 - 6;
                    if hdr[5] == MSG_NEWKEYS {
                        self.phase = Phase::NewKeys(left);
                        continue;
                    }
                    hdr.clear();
                    *skip = left;
                }
            }
        }
    }
}

/// What one segment told about the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthEvent {
    /// The server refused one more authentication request.
    Failed,
    /// The server accepted the client.
    Succeeded,
}

/// The login inference of one SSH connection.
#[derive(Debug, Clone)]
pub struct SshAuth {
    client: Side,
    server: Side,
    client_encrypted: bool,
    accept_size: Option<usize>,
    failure_size: Option<usize>,
    skipped_banner: bool,
    decided: bool,
    /// Client authentication requests seen (the `none` probe included).
    pub attempts: u32,
    /// Failed attempts inferred (the `none` probe's failure excluded).
    pub failures: u32,
    pub succeeded: bool,
}

impl Default for SshAuth {
    fn default() -> Self {
        Self::new()
    }
}

impl SshAuth {
    pub fn new() -> Self {
        SshAuth {
            client: Side::new(),
            server: Side::new(),
            client_encrypted: false,
            accept_size: None,
            failure_size: None,
            skipped_banner: false,
            decided: false,
            attempts: 0,
            failures: 0,
            succeeded: false,
        }
    }

    /// Feed one TCP segment of the connection (sequence number and payload).
    pub fn segment(&mut self, from_client: bool, seq: u32, payload: &[u8]) -> Option<AuthEvent> {
        if self.decided {
            return None;
        }
        if from_client {
            if self.client.take(seq, payload) > 0 {
                self.client_encrypted = true;
                if self.accept_size.is_some() {
                    self.attempts += 1;
                }
            }
            return None;
        }
        let len = self.server.take(seq, payload);
        if len == 0 || !self.client_encrypted {
            return None;
        }
        let Some(accept) = self.accept_size else {
            self.accept_size = Some(len);
            return None;
        };
        if len < accept {
            self.decided = true;
            self.succeeded = true;
            return Some(AuthEvent::Succeeded);
        }
        match self.failure_size {
            None => {
                if !self.skipped_banner && len > accept + BANNER_EXTRA {
                    self.skipped_banner = true;
                } else {
                    self.failure_size = Some(len);
                }
                None
            }
            Some(f) if f == len => {
                self.failures += 1;
                Some(AuthEvent::Failed)
            }
            Some(_) => None,
        }
    }

    /// Whether the stream on both sides could be followed into the encrypted part.
    pub fn encrypted(&self) -> bool {
        self.client.phase == Phase::Encrypted && self.server.phase == Phase::Encrypted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cleartext binary packet of `msg` with `body` bytes after the message number.
    fn packet(msg: u8, body: usize) -> Vec<u8> {
        // At least 4 bytes of padding, the whole packet a multiple of 8 (RFC 4253, 6).
        let pad = 4 + (8 - (4 + 1 + 1 + body + 4) % 8) % 8;
        let len = (1 + 1 + body + pad) as u32;
        let mut p = len.to_be_bytes().to_vec();
        p.push(pad as u8);
        p.push(msg);
        p.extend(std::iter::repeat_n(0u8, body + pad));
        p
    }

    /// Feeds (from_client, payload) in order with running sequence numbers per side.
    fn feed(auth: &mut SshAuth, segs: &[(bool, Vec<u8>)]) -> Vec<AuthEvent> {
        let (mut c, mut s) = (1000u32, 9000u32);
        let mut out = Vec::new();
        for (from_client, p) in segs {
            let seq = if *from_client { &mut c } else { &mut s };
            out.extend(auth.segment(*from_client, *seq, p));
            *seq = seq.wrapping_add(p.len() as u32);
        }
        out
    }

    fn handshake() -> Vec<(bool, Vec<u8>)> {
        let mut reply = packet(31, 500);
        reply.extend(packet(MSG_NEWKEYS, 0));
        vec![
            (true, b"SSH-2.0-OpenSSH_9.2\r\n".to_vec()),
            (false, b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n".to_vec()),
            (true, packet(20, 900)),
            (false, packet(20, 1080)),
            (true, packet(30, 40)),
            (false, reply),
            (true, packet(MSG_NEWKEYS, 0)),
        ]
    }

    #[test]
    fn failed_passwords_are_counted_from_encrypted_sizes() {
        let mut segs = handshake();
        segs.push((true, vec![0; 44])); // SERVICE_REQUEST
        segs.push((false, vec![0; 44])); // SERVICE_ACCEPT
        segs.push((true, vec![0; 68])); // none
        segs.push((false, vec![0; 52])); // its failure: the reference size
        for _ in 0..4 {
            segs.push((true, vec![0; 84])); // password
            segs.push((false, vec![0; 52])); // failure
        }
        // A retransmitted failure counts once.
        let mut auth = SshAuth::new();
        let mut events = feed(&mut auth, &segs);
        assert!(auth.encrypted());
        let last = segs.len() - 1;
        let resend = segs[last].1.clone();
        let sent: usize = segs.iter().filter(|(c, _)| !c).map(|(_, p)| p.len()).sum();
        let seq = 9000 + (sent - resend.len()) as u32;
        events.extend(auth.segment(false, seq, &resend));
        assert_eq!(events, vec![AuthEvent::Failed; 4]);
        assert_eq!(
            (auth.attempts, auth.failures, auth.succeeded),
            (5, 4, false)
        );
    }

    #[test]
    fn a_successful_login_is_decided_and_stops_counting() {
        let mut segs = handshake();
        segs.push((true, vec![0; 44]));
        segs.push((false, vec![0; 44]));
        segs.push((true, vec![0; 68]));
        segs.push((false, vec![0; 52]));
        segs.push((true, vec![0; 84]));
        segs.push((false, vec![0; 28])); // USERAUTH_SUCCESS
        for _ in 0..6 {
            segs.push((true, vec![0; 52])); // session traffic
            segs.push((false, vec![0; 52]));
        }
        let mut auth = SshAuth::new();
        let events = feed(&mut auth, &segs);
        assert_eq!(events, vec![AuthEvent::Succeeded]);
        assert_eq!((auth.attempts, auth.failures, auth.succeeded), (2, 0, true));
    }

    #[test]
    fn cleartext_headers_split_across_segments_are_followed() {
        let mut segs = handshake();
        // The server's KEXINIT split inside its length field.
        let kexinit = segs[3].1.clone();
        segs[3] = (false, kexinit[..3].to_vec());
        segs.insert(4, (false, kexinit[3..].to_vec()));
        let mut auth = SshAuth::new();
        feed(&mut auth, &segs);
        assert!(auth.encrypted());
    }

    #[test]
    fn a_newkeys_split_across_segments_is_followed_into_the_encrypted_part() {
        let mut segs = handshake();
        // The server's NEWKEYS cut after its header (the KEX reply and 6 bytes in one segment),
        // the client's cut inside its header.
        let reply = segs[5].1.clone();
        let at = reply.len() - 10;
        segs[5] = (false, reply[..at].to_vec());
        segs.insert(6, (false, reply[at..].to_vec()));
        let newkeys = segs[7].1.clone();
        segs[7] = (true, newkeys[..3].to_vec());
        segs.insert(8, (true, newkeys[3..].to_vec()));
        segs.push((true, vec![0; 44]));
        segs.push((false, vec![0; 44]));
        segs.push((true, vec![0; 68]));
        segs.push((false, vec![0; 52]));
        segs.push((true, vec![0; 84]));
        segs.push((false, vec![0; 52]));
        let mut auth = SshAuth::new();
        let events = feed(&mut auth, &segs);
        assert!(auth.encrypted());
        assert_eq!(events, vec![AuthEvent::Failed]);
    }

    #[test]
    fn a_gap_or_no_ssh_ends_the_inference() {
        let mut auth = SshAuth::new();
        auth.segment(true, 1, b"GET / HTTP/1.1\r\n");
        auth.segment(true, 17, &[b'a'; MAX_BANNER + 1]);
        assert_eq!(auth.client.phase, Phase::Lost);
        let mut gap = SshAuth::new();
        gap.segment(false, 1, b"SSH-2.0-x\r\n");
        gap.segment(false, 500, &packet(20, 10));
        assert_eq!(gap.server.phase, Phase::Lost);
        // A length field no SSH packet has.
        let mut bad = SshAuth::new();
        bad.segment(false, 1, b"SSH-2.0-x\r\n\xff\xff\xff\xff\x04\x14");
        assert_eq!(bad.server.phase, Phase::Lost);
    }
}
