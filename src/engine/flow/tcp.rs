//! A small passive TCP state machine, named as Suricata's EVE `tcp.state` names its states.
//!
//! Driven by the flow table on the aggregator thread, one call per TCP packet. It follows
//! flags only (no sequence numbers), which is enough to tell handshakes, scans, orderly closes
//! and resets apart.

use crate::engine::packet::TcpFlags;

/// Session state of a TCP flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TcpState {
    /// Picked up mid-stream: the first packet was neither SYN nor SYN/ACK.
    #[default]
    None,
    SynSent,
    SynRecv,
    Established,
    /// The client sent the first FIN.
    FinWait1,
    /// The server acknowledged the client's FIN without closing its side yet.
    FinWait2,
    /// Both sides sent FIN, the client first; waiting for the client's last ACK.
    TimeWait,
    /// The server sent the first FIN.
    CloseWait,
    /// Both sides sent FIN, the server first; waiting for the server's last ACK.
    LastAck,
    /// Closed by RST or by the final ACK of an orderly close.
    Closed,
}

impl TcpState {
    /// Suricata's EVE `tcp.state` value.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::None => "none",
            TcpState::SynSent => "syn_sent",
            TcpState::SynRecv => "syn_recv",
            TcpState::Established => "established",
            TcpState::FinWait1 => "fin_wait1",
            TcpState::FinWait2 => "fin_wait2",
            TcpState::TimeWait => "time_wait",
            TcpState::CloseWait => "close_wait",
            TcpState::LastAck => "last_ack",
            TcpState::Closed => "closed",
        }
    }

    /// The three-way handshake completed (or a mid-stream pickup saw both sides talk), and the
    /// session has not been reset before that.
    pub fn is_established(self) -> bool {
        matches!(
            self,
            TcpState::Established
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::TimeWait
                | TcpState::CloseWait
                | TcpState::LastAck
        )
    }

    /// State after the first packet of a flow, seen from the client's side (a SYN/ACK seen
    /// first has already made its receiver the client).
    pub fn initial(flags: TcpFlags) -> TcpState {
        let f = flags.0;
        if f & TcpFlags::RST != 0 {
            TcpState::Closed
        } else if f & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN {
            TcpState::SynSent
        } else if f & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN | TcpFlags::ACK {
            TcpState::SynRecv
        } else {
            TcpState::None
        }
    }

    /// State after a later packet travelling `to_server` (client → server) or back.
    pub fn next(self, flags: TcpFlags, to_server: bool) -> TcpState {
        let f = flags.0;
        if f & TcpFlags::RST != 0 {
            return TcpState::Closed;
        }
        let syn = f & TcpFlags::SYN != 0;
        let ack = f & TcpFlags::ACK != 0;
        let fin = f & TcpFlags::FIN != 0;
        match (self, to_server) {
            (TcpState::SynSent, false) if syn => TcpState::SynRecv,
            (TcpState::SynRecv, true) if ack && !syn => TcpState::Established.on_fin(fin, true),
            // Mid-stream pickup: an answer from the other side means a live session.
            (TcpState::None, false) if ack => TcpState::Established.on_fin(fin, false),
            (TcpState::None, true) if fin => TcpState::FinWait1,
            (TcpState::Established, _) => self.on_fin(fin, to_server),
            (TcpState::FinWait1, false) if fin => TcpState::TimeWait,
            (TcpState::FinWait1, false) if ack => TcpState::FinWait2,
            (TcpState::FinWait2, false) if fin => TcpState::TimeWait,
            (TcpState::TimeWait, true) if ack && !fin => TcpState::Closed,
            (TcpState::CloseWait, true) if fin => TcpState::LastAck,
            (TcpState::LastAck, false) if ack && !fin => TcpState::Closed,
            (s, _) => s,
        }
    }

    fn on_fin(self, fin: bool, to_server: bool) -> TcpState {
        match (fin, to_server) {
            (false, _) => self,
            (true, true) => TcpState::FinWait1,
            (true, false) => TcpState::CloseWait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u16 = TcpFlags::SYN;
    const A: u16 = TcpFlags::ACK;
    const F: u16 = TcpFlags::FIN;
    const R: u16 = TcpFlags::RST;

    fn run(first: u16, rest: &[(u16, bool)]) -> Vec<TcpState> {
        let mut s = TcpState::initial(TcpFlags(first));
        let mut out = vec![s];
        for &(f, to_server) in rest {
            s = s.next(TcpFlags(f), to_server);
            out.push(s);
        }
        out
    }

    #[test]
    fn handshake_and_client_close() {
        let states = run(
            S,
            &[
                (S | A, false),
                (A, true),
                (A, true),
                (F | A, true),
                (A, false),
                (F | A, false),
                (A, true),
            ],
        );
        let names: Vec<_> = states.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "syn_sent",
                "syn_recv",
                "established",
                "established",
                "fin_wait1",
                "fin_wait2",
                "time_wait",
                "closed"
            ]
        );
    }

    #[test]
    fn server_close_and_reset() {
        let states = run(
            S,
            &[
                (S | A, false),
                (A, true),
                (F | A, false),
                (F | A, true),
                (A, false),
            ],
        );
        assert_eq!(states[3], TcpState::CloseWait);
        assert_eq!(states[4], TcpState::LastAck);
        assert_eq!(states[5], TcpState::Closed);
        // SYN answered by RST: a closed port.
        assert_eq!(run(S, &[(R | A, false)]).last(), Some(&TcpState::Closed));
    }

    #[test]
    fn midstream_pickup_needs_an_answer() {
        assert_eq!(run(A, &[]), [TcpState::None]);
        assert_eq!(run(A, &[(A, true)]).last(), Some(&TcpState::None));
        assert_eq!(run(A, &[(A, false)]).last(), Some(&TcpState::Established));
        assert!(!TcpState::SynRecv.is_established());
        assert!(TcpState::FinWait1.is_established());
    }
}
