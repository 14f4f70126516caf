//! Stored text made safe for a terminal: reasons, notes and other free text that came from a
//! command line, a database or the network are shown with their control characters escaped,
//! so an ANSI escape or a newline in them can neither restyle the screen nor forge a line.
//! The one function every listing, `show` command and console pane prints such text through.
//!
//! Pure; called on whichever thread prints or draws.

use std::borrow::Cow;

/// Whether `c` could move the cursor, restyle the terminal or reorder what is shown: C0 and
/// C1 controls, DEL, and the bidirectional overrides and isolates.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character written as its Rust escape (`\n`, `\u{1b}`); unchanged
/// (and not copied) when there is none.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn escapes_controls_and_keeps_the_rest() {
        assert!(matches!(
            printable("plain text, ünïcode"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("a\u{1b}[31mred\nforged\r\u{9b}x\u{202e}"),
            "a\\u{1b}[31mred\\nforged\\r\\u{9b}x\\u{202e}"
        );
    }
}
