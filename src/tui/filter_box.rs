//! The filter box (`/`): the text being typed, marked valid or invalid as it changes, with the
//! reason and a caret under the position of the error. Drawn on the UI thread.

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
