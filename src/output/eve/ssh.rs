//! EVE `ssh` objects in Suricata's field names: `client` or `server`, each with
//! `proto_version` and `software_version`, from one banner.
//!
//! Suricata writes one event per connection with both banners; without stream reassembly
//! each banner is its own event, tied to its partner by `flow_id`. Which side spoke is told by
//! the ports: the packet from port 22, else from the lower port, is the server's. Written by
//! the EVE writer on the output thread.

use std::io;

use super::json::Obj;
use super::Body;
use crate::engine::applayer::SshBanner;

const SSH_PORT: u16 = 22;

pub(super) struct Ssh<'a> {
    pub banner: &'a SshBanner,
    /// The packet's (source, destination) ports.
    pub ports: (u16, u16),
}

/// Whether a banner sent from `src` to `dst` port is the server's.
pub(super) fn from_server((src, dst): (u16, u16)) -> bool {
    src == SSH_PORT || (dst != SSH_PORT && src < dst)
}

impl Body for Ssh<'_> {
    fn entries(&self, m: &mut Obj) -> io::Result<()> {
        let mut o = m.obj("ssh");
        let side = if from_server(self.ports) {
            "server"
        } else {
            "client"
        };
        let mut s = o.obj(side);
        s.str("proto_version", &self.banner.proto_version);
        s.str("software_version", &self.banner.software_version);
        s.close();
        o.close();
        Ok(())
    }
}
