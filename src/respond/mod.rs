//! Automated and manual response: firewall backends (nftables, iptables + ipset, pf), TCP
//! resets (`ss -K`), commit-confirmed blocks, the safety checks and caps every action passes,
//! the hash-chained audit trail, incident persistence, reports and notifications.
//!
//! Runs off the analysis path: the CLI's main thread, one response worker thread fed by a
//! bounded queue, or the console's effect thread. Nothing here is called per packet.

pub mod auto;
pub mod confirm;
pub mod console;
pub mod enforcer;
pub mod exec;
pub mod fw;
pub mod limits;
pub mod ops;
pub mod plan;
pub mod policy;
pub mod reset;
pub mod responder;
pub mod safety;
pub mod setup;
pub mod webhook;
