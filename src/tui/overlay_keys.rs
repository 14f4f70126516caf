//! Key handling inside the console's overlays: the filter box, the block confirmation, the
//! export prompt and the incident note. Like every handler, these change only UI state and
//! return effects.
//!
//! Called on the UI thread from `App::handle_key`.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};

use super::app::{
    App, Effect, ExportInput, ExportScope, ExportWhat, FilterInput, Overlay, INCIDENT_LOOKBACK_SECS,
};
use crate::engine::filter;
use crate::engine::model::IncidentEdit;
use crate::respond::plan::BlockPlan;

/// Longest note the console takes.
const MAX_NOTE_CHARS: usize = 500;

impl App {
    /// The export prompt's proposal: the next number whose file does not exist yet (an export
    /// never overwrites a file, so an earlier session's names are skipped).
    pub(super) fn default_path(&self, scope: ExportScope) -> String {
        let name = |n: u32| {
            self.export_dir
                .join(format!("nsm-tui-{}-{n}.pcap", scope.slug()))
        };
        let mut n = self.exports.saturating_add(1);
        while n < self.exports.saturating_add(10_000) && std::fs::symlink_metadata(name(n)).is_ok()
        {
            n += 1;
        }
        name(n).display().to_string()
    }

    pub(super) fn filter_key(&mut self, ev: &KeyEvent, mut f: FilterInput) -> Vec<Effect> {
        match ev.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Enter => match filter::parse(&f.text) {
                Ok(parsed) => {
                    self.filter_text = f.text.trim().to_string();
                    self.view.set_filter(parsed);
                    self.follow = true;
                    self.selected = None;
                    return Vec::new();
                }
                Err(e) => f.error = Some(e),
            },
            KeyCode::Backspace => {
                f.text.pop();
                f.error = filter::parse(&f.text).err();
            }
            KeyCode::Char(c) => {
                f.text.push(c);
                f.error = filter::parse(&f.text).err();
            }
            _ => {}
        }
        self.overlay = Overlay::Filter(f);
        Vec::new()
    }

    pub(super) fn note_key(
        &mut self,
        ev: &KeyEvent,
        incident: u64,
        mut text: String,
    ) -> Vec<Effect> {
        match ev.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Enter => {
                return vec![Effect::EditIncident {
                    id: incident,
                    edit: IncidentEdit::Note(text),
                }]
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c) if text.chars().count() < MAX_NOTE_CHARS => text.push(c),
            _ => {}
        }
        self.overlay = Overlay::Note { incident, text };
        Vec::new()
    }

    pub(super) fn confirm_key(&mut self, ev: &KeyEvent, plan: BlockPlan) -> Vec<Effect> {
        match ev.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter if plan.refused.is_none() => {
                self.pending_actions += 1;
                self.report(format!("block of {} requested…", plan.addr), true);
                vec![Effect::Block(plan)]
            }
            // A refused attempt is recorded like any other decision when its dialog closes.
            KeyCode::Char('y' | 'Y' | 'n' | 'N' | 'q') | KeyCode::Esc | KeyCode::Enter
                if plan.refused.is_some() =>
            {
                let why = plan.refused.clone().unwrap_or_default();
                self.pending_actions += 1;
                self.report(format!("not blocked: {why}"), false);
                vec![Effect::Block(plan)]
            }
            KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc | KeyCode::Enter => {
                self.report("block cancelled".into(), true);
                Vec::new()
            }
            _ => {
                self.overlay = Overlay::Confirm(plan);
                Vec::new()
            }
        }
    }

    pub(super) fn export_key(&mut self, ev: &KeyEvent, mut e: ExportInput) -> Vec<Effect> {
        let idx = ExportScope::ALL
            .iter()
            .position(|s| *s == e.scope)
            .unwrap_or(0);
        let rescope = |e: &mut ExportInput, s: ExportScope| {
            if e.path == self.default_path(e.scope) {
                e.path = self.default_path(s);
            }
            e.scope = s;
        };
        match ev.code {
            KeyCode::Esc => return Vec::new(),
            KeyCode::Up => rescope(&mut e, ExportScope::ALL[idx.saturating_sub(1)]),
            KeyCode::Down | KeyCode::Tab => rescope(&mut e, ExportScope::ALL[(idx + 1) % 3]),
            KeyCode::Backspace => {
                e.path.pop();
            }
            KeyCode::Char(c) => e.path.push(c),
            KeyCode::Enter => return self.export_confirmed(e),
            _ => {}
        }
        self.overlay = Overlay::Export(e);
        Vec::new()
    }

    fn export_confirmed(&mut self, e: ExportInput) -> Vec<Effect> {
        let what = match (e.scope, e.incident) {
            (ExportScope::All, _) => ExportWhat::All,
            (ExportScope::Filtered, _) => ExportWhat::Filtered(self.view.filter().cloned()),
            (ExportScope::Incident, Some(id)) => ExportWhat::Incident {
                id,
                before_secs: INCIDENT_LOOKBACK_SECS,
            },
            (ExportScope::Incident, None) => {
                self.report("no incident to export".into(), false);
                return Vec::new();
            }
        };
        if e.path.trim().is_empty() {
            self.report("no file name given; nothing written".into(), false);
            return Vec::new();
        }
        self.exports += 1;
        self.report(format!("writing {}…", e.path), true);
        vec![Effect::Export {
            path: PathBuf::from(e.path.trim()),
            what,
        }]
    }
}
