//! The console's key bindings: one table of action ↔ keys that drives key dispatch, the help
//! overlay and the footer hints, overridable from `[console.keys]` in the configuration.
//!
//! Built once on the main thread before the console starts; read by the UI thread.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can ask the console to do outside text entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    NextPane,
    Details,
    Back,
    Filter,
    Pause,
    Block,
    Write,
    Acknowledge,
    Resolve,
    Note,
    Reload,
    Copy,
    Overview,
    Help,
    Quit,
}

/// Name (as `[console.keys]` spells it), help text, whether it shows in the footer, default keys.
type Entry = (
    Action,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
);

const DEFAULTS: &[Entry] = &[
    (Action::Down, "down", "next row", false, &["j", "down"]),
    (Action::Up, "up", "previous row", false, &["k", "up"]),
    (Action::Top, "top", "first row", false, &["g", "home"]),
    (
        Action::Bottom,
        "bottom",
        "last row (follow newest)",
        false,
        &["G", "end"],
    ),
    (
        Action::PageDown,
        "page_down",
        "page down",
        false,
        &["pagedown", "ctrl+d"],
    ),
    (
        Action::PageUp,
        "page_up",
        "page up",
        false,
        &["pageup", "ctrl+u"],
    ),
    (Action::NextPane, "next_pane", "next pane", true, &["tab"]),
    (Action::Details, "details", "details", true, &["enter"]),
    (Action::Back, "back", "close / back", false, &["esc"]),
    (Action::Filter, "filter", "filter", true, &["/"]),
    (Action::Pause, "pause", "pause", true, &["space"]),
    (Action::Block, "block", "block source", true, &["b"]),
    (Action::Write, "write", "write pcap", true, &["w"]),
    (
        Action::Acknowledge,
        "acknowledge",
        "acknowledge incident",
        false,
        &["a"],
    ),
    (
        Action::Resolve,
        "resolve",
        "resolve incident",
        false,
        &["r"],
    ),
    (Action::Note, "note", "add incident note", false, &["n"]),
    (Action::Reload, "reload", "reload signatures", false, &["R"]),
    (Action::Copy, "copy", "copy address", false, &["y"]),
    (Action::Overview, "overview", "overview tab", true, &["o"]),
    (Action::Help, "help", "help", true, &["?"]),
    (Action::Quit, "quit", "quit", true, &["q", "ctrl+c"]),
];

/// One key with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

/// A key string or action name in the configuration that makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("[console.keys]: unknown action {0:?} (one of: {1})")]
    UnknownAction(String, String),
    #[error("[console.keys] {action}: cannot read key {key:?} (e.g. \"x\", \"ctrl+x\", \"f5\", \"enter\", \"pagedown\")")]
    BadKey { action: String, key: String },
}

impl Key {
    /// Parse `x`, `G`, `?`, `ctrl+c`, `alt+x`, `enter`, `esc`, `tab`, `space`, `up`, `f5` ….
    pub fn parse(s: &str) -> Option<Key> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        while let Some((m, r)) = rest
            .split_once('+')
            .filter(|(m, r)| !m.is_empty() && !r.is_empty())
        {
            match m.to_ascii_lowercase().as_str() {
                "ctrl" | "c" => mods |= KeyModifiers::CONTROL,
                "alt" | "m" => mods |= KeyModifiers::ALT,
                "shift" | "s" => mods |= KeyModifiers::SHIFT,
                _ => return None,
            }
            rest = r;
        }
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" | "return" => KeyCode::Enter,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok()?),
            _ => {
                let mut chars = rest.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                KeyCode::Char(c)
            }
        };
        Some(Key { code, mods })
    }

    /// Normalise a terminal event: shifted letters arrive with SHIFT on some terminals only.
    pub fn from_event(e: &KeyEvent) -> Key {
        let mut mods = e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT);
        if !matches!(e.code, KeyCode::Char(_)) {
            mods |= e.modifiers & KeyModifiers::SHIFT;
        }
        Key { code: e.code, mods }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl+")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt+")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift+")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One row of the effective table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub action: Action,
    pub name: &'static str,
    pub help: &'static str,
    pub footer: bool,
    pub keys: Vec<Key>,
}

/// The effective key table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMap {
    bindings: Vec<Binding>,
}

impl Default for KeyMap {
    fn default() -> Self {
        let bindings = DEFAULTS
            .iter()
            .map(|(action, name, help, footer, keys)| Binding {
                action: *action,
                name,
                help,
                footer: *footer,
                keys: keys.iter().filter_map(|k| Key::parse(k)).collect(),
            })
            .collect();
        Self { bindings }
    }
}

impl KeyMap {
    /// The defaults with `overrides` (action name → comma-separated keys) applied.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<KeyMap, KeymapError> {
        let mut map = KeyMap::default();
        for (name, keys) in overrides {
            let Some(b) = map.bindings.iter_mut().find(|b| b.name == name.as_str()) else {
                let names: Vec<&str> = DEFAULTS.iter().map(|d| d.1).collect();
                return Err(KeymapError::UnknownAction(name.clone(), names.join(", ")));
            };
            let parsed: Option<Vec<Key>> = keys.split(',').map(|k| Key::parse(k.trim())).collect();
            match parsed {
                Some(k) if !k.is_empty() => b.keys = k,
                _ => {
                    return Err(KeymapError::BadKey {
                        action: name.clone(),
                        key: keys.clone(),
                    })
                }
            }
        }
        // A key rebound to one action no longer triggers the action it had by default.
        let overridden: Vec<(Action, Vec<Key>)> = map
            .bindings
            .iter()
            .filter(|b| overrides.contains_key(b.name))
            .map(|b| (b.action, b.keys.clone()))
            .collect();
        for b in &mut map.bindings {
            for (a, keys) in &overridden {
                if *a != b.action {
                    b.keys.retain(|k| !keys.contains(k));
                }
            }
        }
        Ok(map)
    }

    pub fn action(&self, e: &KeyEvent) -> Option<Action> {
        let k = Key::from_event(e);
        self.bindings
            .iter()
            .find(|b| b.keys.contains(&k))
            .map(|b| b.action)
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// "j/↓" — the keys of an action joined for display.
    pub fn keys_of(&self, a: Action) -> String {
        self.bindings
            .iter()
            .find(|b| b.action == a)
            .map(|b| {
                b.keys
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default()
    }

    /// (first key, help) of the actions the footer shows.
    pub fn footer(&self) -> Vec<(String, &'static str)> {
        self.bindings
            .iter()
            .filter(|b| b.footer)
            .filter_map(|b| b.keys.first().map(|k| (k.to_string(), b.help)))
            .collect()
    }
}
