//! Colours of the console: severity colours that read on dark and light backgrounds, a
//! 16-colour fallback, and no colour at all when `NO_COLOR` is set.
//!
//! Chosen once at start-up on the main thread; read by every pane while drawing.

use ratatui::style::{Color, Modifier, Style};

use crate::engine::Severity;

/// How much colour the terminal gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// 256-colour indexed palette, tuned for dark backgrounds.
    Dark,
    /// 256-colour indexed palette, tuned for light backgrounds.
    Light,
    /// The 16 ANSI colours only.
    Basic,
    /// No colour: emphasis by bold/reverse only (`NO_COLOR`).
    Mono,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub palette: Palette,
}

impl Default for Theme {
    fn default() -> Self {
        Self {
            palette: Palette::Dark,
        }
    }
}

impl Theme {
    /// From the configured theme name and the environment's `NO_COLOR` and `COLORTERM`/`TERM`.
    pub fn choose(name: &str, no_color: bool, term: Option<&str>) -> Theme {
        let palette = if no_color {
            Palette::Mono
        } else if term
            .is_some_and(|t| matches!(t, "linux" | "vt100" | "vt220" | "xterm-16color" | "ansi"))
        {
            Palette::Basic
        } else {
            match name {
                "light" => Palette::Light,
                "basic" | "16" => Palette::Basic,
                "mono" | "none" => Palette::Mono,
                _ => Palette::Dark,
            }
        };
        Theme { palette }
    }

    /// Foreground for a row or label of this severity.
    pub fn severity(&self, s: Severity) -> Style {
        let c = match (self.palette, s) {
            (Palette::Mono, Severity::Critical | Severity::High) => {
                return Style::default().add_modifier(Modifier::BOLD)
            }
            (Palette::Mono, _) => return Style::default(),
            (Palette::Basic, Severity::Critical) => Color::LightMagenta,
            (Palette::Basic, Severity::High) => Color::LightRed,
            (Palette::Basic, Severity::Medium) => Color::Yellow,
            (Palette::Basic, Severity::Low) => Color::Cyan,
            (Palette::Dark, Severity::Critical) => Color::Indexed(199),
            (Palette::Dark, Severity::High) => Color::Indexed(203),
            (Palette::Dark, Severity::Medium) => Color::Indexed(214),
            (Palette::Dark, Severity::Low) => Color::Indexed(75),
            (Palette::Light, Severity::Critical) => Color::Indexed(125),
            (Palette::Light, Severity::High) => Color::Indexed(160),
            (Palette::Light, Severity::Medium) => Color::Indexed(130),
            (Palette::Light, Severity::Low) => Color::Indexed(25),
        };
        let st = Style::default().fg(c);
        if s == Severity::Critical {
            st.add_modifier(Modifier::BOLD)
        } else {
            st
        }
    }

    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn title(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        match self.palette {
            Palette::Mono => Style::default(),
            Palette::Basic => Style::default().fg(Color::DarkGray),
            Palette::Dark => Style::default().fg(Color::Indexed(245)),
            Palette::Light => Style::default().fg(Color::Indexed(242)),
        }
    }
    pub fn warning(&self) -> Style {
        match self.palette {
            Palette::Mono => Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            _ => Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        }
    }
    pub fn error(&self) -> Style {
        match self.palette {
            Palette::Mono => Style::default().add_modifier(Modifier::BOLD),
            _ => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }
    pub fn ok(&self) -> Style {
        match self.palette {
            Palette::Mono => Style::default(),
            _ => Style::default().fg(Color::Green),
        }
    }
    pub fn accent(&self) -> Style {
        match self.palette {
            Palette::Mono => Style::default().add_modifier(Modifier::BOLD),
            Palette::Light => Style::default().fg(Color::Blue),
            _ => Style::default().fg(Color::Cyan),
        }
    }
    /// Bytes a signature matched, in the hex dump.
    pub fn highlight(&self) -> Style {
        match self.palette {
            Palette::Mono => Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            _ => Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        }
    }
    pub fn focused_border(&self, focused: bool) -> Style {
        if focused {
            self.accent().add_modifier(Modifier::BOLD)
        } else {
            self.dim()
        }
    }
}
