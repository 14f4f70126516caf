//! SSH identification banners (RFC 4253 section 4.2): `SSH-protoversion-softwareversion
//! SP comments CR LF`, split as Suricata's EVE `ssh` object names the parts.

/// The most a banner may be, CR LF included (RFC 4253: 255 characters).
const MAX_BANNER: usize = 255;

/// One side's identification string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshBanner {
    /// `2.0`, `1.99`, `1.5`.
    pub proto_version: String,
    /// What follows the protocol version, comments included (`OpenSSH_8.9p1 Ubuntu-3`), as
    /// Suricata's `software_version` holds it.
    pub software_version: String,
}

/// The banner `payload` starts with: a line beginning `SSH-`, ending in LF within 255 bytes,
/// with a protocol version and a software version. Anything else is no banner.
pub fn parse(payload: &[u8]) -> Option<SshBanner> {
    let rest = payload.strip_prefix(b"SSH-")?;
    let window = &rest[..rest.len().min(MAX_BANNER)];
    let end = window.iter().position(|&b| b == b'\n')?;
    let line = window[..end].strip_suffix(b"\r").unwrap_or(&window[..end]);
    let line = std::str::from_utf8(line).ok()?;
    let (proto, software) = line.split_once('-')?;
    let printable = |s: &str| !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !printable(proto) || !printable(software) || proto.contains(' ') {
        return None;
    }
    Some(SshBanner {
        proto_version: proto.to_string(),
        software_version: software.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_banner_splits_into_version_and_software() {
        let b = parse(b"SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n").unwrap();
        assert_eq!(b.proto_version, "2.0");
        assert_eq!(b.software_version, "OpenSSH_8.9p1 Ubuntu-3");
    }

    #[test]
    fn bare_lf_and_old_versions_are_banners() {
        let b = parse(b"SSH-1.99-Cisco-1.25\n").unwrap();
        assert_eq!(
            (&*b.proto_version, &*b.software_version),
            ("1.99", "Cisco-1.25")
        );
    }

    #[test]
    fn unterminated_empty_or_binary_lines_are_not() {
        assert_eq!(parse(b"SSH-2.0-OpenSSH_8.9"), None);
        assert_eq!(parse(b"SSH-2.0-\r\n"), None);
        assert_eq!(parse(b"SSH-2.0\r\n"), None);
        assert_eq!(parse(b"SSH-2.0-Open\x01SSH\r\n"), None);
        let long = [&b"SSH-2.0-"[..], &[b'a'; 300], b"\r\n"].concat();
        assert_eq!(parse(&long), None);
    }
}
