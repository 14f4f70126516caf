//! A set of TCP or UDP ports as a 65,536-bit map: one load and a mask per lookup, for the lists
//! of watched ports a detector tests on every packet.

/// Ports, one bit each (8 KiB).
#[derive(Clone)]
pub(crate) struct PortSet {
    bits: Box<[u64; 1024]>,
}

impl PortSet {
    pub(crate) fn of(ports: &[u16]) -> Self {
        let mut bits = Box::new([0u64; 1024]);
        for &p in ports {
            if let Some(w) = bits.get_mut(usize::from(p >> 6)) {
                *w |= 1 << (p & 63);
            }
        }
        PortSet { bits }
    }

    pub(crate) fn contains(&self, port: u16) -> bool {
        self.bits
            .get(usize::from(port >> 6))
            .is_some_and(|w| w & (1 << (port & 63)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_exactly_the_ports_given() {
        let given = [0, 1, 22, 63, 64, 5900, 65535];
        let s = PortSet::of(&given);
        for p in 0..=u16::MAX {
            assert_eq!(s.contains(p), given.contains(&p), "port {p}");
        }
    }
}
