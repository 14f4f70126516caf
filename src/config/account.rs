//! System accounts by name, from `/etc/passwd`: the user `[sniffer] user` names, checked when
//! the configuration is validated and switched to after the capture opens. Main thread only.

use std::path::Path;

/// A user the process can switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// The password database read here.
pub const PASSWD: &str = "/etc/passwd";

/// The account named `name` in `passwd` (the text of a password file), if there is one.
pub fn find_in(passwd: &str, name: &str) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let (n, _pw, uid, gid) = (f.next()?, f.next()?, f.next()?, f.next()?);
        (n == name).then_some(())?;
        Some(Account {
            name: n.to_string(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
        })
    })
}

/// The account named `name` in the system's password database; `None` when it is absent or
/// the database cannot be read.
pub fn find(name: &str) -> Option<Account> {
    let text = std::fs::read_to_string(Path::new(PASSWD)).ok()?;
    find_in(&text, name)
}

/// The user a capture switches to when `[sniffer] user` is not set: `nsm-tui` when the
/// package created it, else `nobody`.
pub fn default_user() -> Option<Account> {
    find("nsm-tui").or_else(|| find("nobody"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_user_by_name_and_skips_malformed_lines() {
        let text = "root:x:0:0:root:/root:/bin/sh\nbroken\nnobody:x:65534:65534::/:/bin/false\n";
        assert_eq!(
            find_in(text, "nobody"),
            Some(Account {
                name: "nobody".into(),
                uid: 65534,
                gid: 65534
            })
        );
        assert_eq!(find_in(text, "nob"), None);
        assert_eq!(find_in(text, "broken"), None);
    }
}
