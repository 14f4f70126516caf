//! The filter box (`/`): the text being typed, marked valid or invalid as it changes, with the
//! reason and a caret under the position of the error; and the one-line incident note prompt.
//! Drawn on the UI thread.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::app::{App, FilterInput};

pub fn render(f: &mut Frame, app: &App, input: &FilterInput, area: Rect) {
    let th = &app.theme;
    let (style, verdict) = match &input.error {
        Some(e) => (
            th.error(),
            format!(" invalid at {}: {} ", e.pos + 1, e.reason),
        ),
        None if input.text.trim().is_empty() => {
            (th.accent(), " empty: Enter clears the filter ".into())
        }
        None => (th.ok(), " valid: Enter applies, Esc cancels ".into()),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled("/", th.accent()),
        Span::raw(input.text.clone()),
        Span::styled("▏", th.accent()),
    ])];
    if let Some(e) = &input.error {
        lines.push(Line::styled(
            format!("{}^", " ".repeat(e.pos + 1)),
            th.error(),
        ));
    }
    let h = u16::try_from(lines.len() + 2).unwrap_or(4);
    let r = Rect {
        x: area.x,
        y: area.y + area.height.saturating_sub(h),
        width: area.width,
        height: h.min(area.height),
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(style)
                .title(Line::styled(" Filter ", th.title()))
                .title_bottom(Line::styled(verdict, style)),
        ),
        r,
    );
}

/// The note prompt (`n` on an incident): one line of text, Enter adds it, Esc cancels.
pub fn render_note(f: &mut Frame, app: &App, incident: u64, text: &str, area: Rect) {
    let th = &app.theme;
    // Keep the end of a long note in view.
    let room = usize::from(area.width.saturating_sub(4));
    let shown: String = {
        let n = text.chars().count();
        text.chars().skip(n.saturating_sub(room)).collect()
    };
    let line = Line::from(vec![Span::raw(shown), Span::styled("▏", th.accent())]);
    let r = Rect {
        x: area.x,
        y: area.y + area.height.saturating_sub(3),
        width: area.width,
        height: area.height.min(3),
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(line).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(th.accent())
                .title(Line::styled(
                    format!(" Note for incident #{incident} "),
                    th.title(),
                ))
                .title_bottom(Line::styled(" Enter adds it, Esc cancels ", th.accent())),
        ),
        r,
    );
}
