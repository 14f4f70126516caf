//! The whole screen: status bar, the main tab (packet table over incidents and detail) or the
//! Overview tab, the footer, and whichever overlay is open. Called once per frame on the UI
//! thread while it holds the model lock.

use ratatui::layout::{Constraint, Layout};
use ratatui::Frame;

use super::app::{App, Overlay, Tab};
use super::{detail, dialog, filter_box, help, incidents, overview, packets, status};
use crate::engine::model::Model;

pub fn draw(f: &mut Frame, app: &App, m: &Model) {
    let [top, main, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    status::render(f, app, m, top);
    match app.tab {
        Tab::Overview => overview::render(f, app, m, main),
        Tab::Main if app.detail_zoom => detail::render(f, app, m, main),
        Tab::Main => {
            let [table, lower] =
                Layout::vertical([Constraint::Percentage(55), Constraint::Fill(1)]).areas(main);
            let split = if lower.width >= 120 { 45 } else { 50 };
            let [inc, det] =
                Layout::horizontal([Constraint::Percentage(split), Constraint::Fill(1)])
                    .areas(lower);
            packets::render(f, app, m, table);
            incidents::render(f, app, m, inc);
            detail::render(f, app, m, det);
        }
    }
    status::render_footer(f, app, m, foot);
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => help::render(f, app, main),
        Overlay::Filter(input) => filter_box::render(f, app, input, main),
        Overlay::Confirm(plan) => dialog::render_confirm(f, app, plan, main),
        Overlay::Export(e) => dialog::render_export(f, app, m, e, main),
        Overlay::Note { incident, text } => filter_box::render_note(f, app, *incident, text, main),
    }
}
