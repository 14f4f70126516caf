//! The console's UI state and its key handler. Handlers change only this state and return
//! `Effect`s (quit, pause, block, export, copy, reload, incident edits) that the event loop
//! carries out or hands to another thread.
//!
//! Lives on the UI thread; handlers read the model while the loop holds its lock.

use std::cell::Cell;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crossterm::event::{KeyEvent, KeyEventKind};

use super::keymap::{Action, KeyMap};
use super::theme::Theme;
use super::view::FilteredView;
use crate::engine::filter::{Filter, FilterError};
use crate::engine::incident::IncidentState;
use crate::engine::model::{Incident, IncidentEdit, Model, Row};
use crate::enrich::geoip::GeoIp;
use crate::enrich::reputation::Status as ReputationStatus;
use crate::metrics::SharedMetrics;
use crate::respond::plan::{BlockPlan, BlockSettings};

/// Seconds of traffic before an incident's first alert that an incident export includes.
pub const INCIDENT_LOOKBACK_SECS: u64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Packets,
    Incidents,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Main,
    Overview,
}

/// The filter box while it is open.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilterInput {
    pub text: String,
    pub error: Option<FilterError>,
}

/// What `w` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportScope {
    All,
    Filtered,
    Incident,
}

impl ExportScope {
    pub const ALL: [ExportScope; 3] = [Self::All, Self::Filtered, Self::Incident];
    pub fn label(self) -> &'static str {
        match self {
            Self::All => "all retained packets",
            Self::Filtered => "the filtered view",
            Self::Incident => "the selected incident's packets",
        }
    }
    pub(super) fn slug(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Filtered => "filtered",
            Self::Incident => "incident",
        }
    }
}

/// The export dialog while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportInput {
    pub scope: ExportScope,
    pub path: String,
    /// Incident the "incident" choice refers to.
    pub incident: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Filter(FilterInput),
    Confirm(BlockPlan),
    Export(ExportInput),
    /// A note for the selected incident being typed.
    Note {
        incident: u64,
        text: String,
    },
}

/// Which packets an export takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportWhat {
    All,
    Filtered(Option<Filter>),
    Incident { id: u64, before_secs: u64 },
}

/// Work for other threads (or the terminal) that a key asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    SetPaused(bool),
    Block(BlockPlan),
    Export {
        path: PathBuf,
        what: ExportWhat,
    },
    /// Put this text on the clipboard (OSC 52).
    Copy(String),
    /// Load the signature files again.
    ReloadSignatures,
    /// Acknowledge, resolve or annotate a console incident (model and database).
    EditIncident {
        id: u64,
        edit: IncidentEdit,
    },
}

/// Everything the console shows besides the model.
#[derive(Debug)]
pub struct App {
    pub keymap: KeyMap,
    pub theme: Theme,
    pub block: BlockSettings,
    pub source: String,
    pub live: bool,
    pub tab: Tab,
    pub focus: Focus,
    pub overlay: Overlay,
    pub view: FilteredView,
    /// The applied filter's text.
    pub filter_text: String,
    /// Follow the newest packet; false once the user scrolls.
    pub follow: bool,
    /// Sequence number of the selected packet when not following.
    pub selected: Option<u64>,
    /// First visible row of the packet table, kept between frames so scrolling is steady.
    pub table_offset: Cell<usize>,
    /// Rows the packet table showed last frame (for paging).
    pub table_height: Cell<usize>,
    pub incident: Option<u64>,
    /// The incident whose alerts and packets the detail pane shows.
    pub incident_open: Option<u64>,
    pub detail_zoom: bool,
    pub detail_scroll: u16,
    pub paused: bool,
    pub message: Option<(String, bool)>,
    pub pending_actions: usize,
    quit_armed: bool,
    pub export_dir: PathBuf,
    pub(super) exports: u32,
    /// GeoIP for the country columns and the detail pane (lookups are cached).
    pub geo: Option<Arc<GeoIp>>,
    /// AbuseIPDB counters for the status bar, when a key is set.
    pub reputation: Option<Arc<ReputationStatus>>,
    /// Response actions of this run (automatic and `b`), for the Overview tab.
    pub response: Option<SharedMetrics>,
}

impl App {
    pub fn new(
        keymap: KeyMap,
        theme: Theme,
        block: BlockSettings,
        source: &str,
        live: bool,
    ) -> Self {
        Self {
            keymap,
            theme,
            block,
            source: source.to_string(),
            live,
            tab: Tab::Main,
            focus: Focus::Packets,
            overlay: Overlay::None,
            view: FilteredView::default(),
            filter_text: String::new(),
            follow: true,
            selected: None,
            table_offset: Cell::new(0),
            table_height: Cell::new(10),
            incident: None,
            incident_open: None,
            detail_zoom: false,
            detail_scroll: 0,
            paused: false,
            message: None,
            pending_actions: 0,
            quit_armed: false,
            export_dir: PathBuf::from("data"),
            exports: 0,
            geo: None,
            reputation: None,
            response: None,
        }
    }

    /// Index of the selected row in the view, if any row is there.
    pub fn selected_index(&self) -> Option<usize> {
        let n = self.view.len();
        if n == 0 {
            return None;
        }
        if self.follow {
            return Some(n - 1);
        }
        Some(
            self.selected
                .map_or(n - 1, |s| self.view.index_of(s))
                .min(n - 1),
        )
    }

    pub fn selected_row<'m>(&self, m: &'m Model) -> Option<&'m Row> {
        m.row(self.view.get(self.selected_index()?)?)
    }

    /// Incidents newest first, as the pane lists them.
    pub fn incident_list<'m>(&self, m: &'m Model) -> impl Iterator<Item = &'m Incident> {
        m.incidents().iter().rev()
    }

    pub fn selected_incident<'m>(&self, m: &'m Model) -> Option<&'m Incident> {
        match self.incident {
            Some(id) => m.incident(id).or_else(|| m.incidents().back()),
            None => m.incidents().back(),
        }
    }

    /// The incident `a`, `r` and `n` act on: the open one, else the selection when the
    /// incident pane has the focus.
    pub fn incident_target(&self, m: &Model) -> Option<u64> {
        self.incident_open.or_else(|| {
            (self.focus == Focus::Incidents)
                .then(|| self.selected_incident(m).map(|i| i.id))
                .flatten()
        })
    }

    fn edit_incident(&mut self, m: &Model, edit: IncidentEdit) -> Vec<Effect> {
        match self.incident_target(m) {
            Some(id) => vec![Effect::EditIncident { id, edit }],
            None => {
                self.report(
                    "select an incident first (tab to the incident pane)".into(),
                    false,
                );
                Vec::new()
            }
        }
    }

    /// Report an effect's outcome in the status bar.
    pub fn report(&mut self, text: String, ok: bool) {
        self.message = Some((text, !ok));
    }

    /// Handle one key; returns the effects it asks for.
    pub fn handle_key(&mut self, ev: &KeyEvent, m: &Model) -> Vec<Effect> {
        if ev.kind == KeyEventKind::Release {
            return Vec::new();
        }
        match std::mem::replace(&mut self.overlay, Overlay::None) {
            Overlay::None => self.normal(ev, m),
            Overlay::Help => {
                if !matches!(
                    self.keymap.action(ev),
                    Some(Action::Help | Action::Back | Action::Quit)
                ) {
                    self.overlay = Overlay::Help;
                }
                Vec::new()
            }
            Overlay::Filter(f) => self.filter_key(ev, f),
            Overlay::Confirm(plan) => self.confirm_key(ev, plan),
            Overlay::Export(e) => self.export_key(ev, e),
            Overlay::Note { incident, text } => self.note_key(ev, incident, text),
        }
    }

    fn normal(&mut self, ev: &KeyEvent, m: &Model) -> Vec<Effect> {
        let Some(action) = self.keymap.action(ev) else {
            return Vec::new();
        };
        if action != Action::Quit {
            self.quit_armed = false;
        }
        match action {
            Action::Down => self.step(m, 1),
            Action::Up => self.step(m, -1),
            Action::PageDown => self.step(m, self.page()),
            Action::PageUp => self.step(m, -self.page()),
            Action::Top => self.step(m, isize::MIN / 2),
            Action::Bottom => self.step(m, isize::MAX / 2),
            Action::NextPane => {
                self.focus = match self.focus {
                    Focus::Packets => Focus::Incidents,
                    Focus::Incidents => Focus::Detail,
                    Focus::Detail => Focus::Packets,
                };
            }
            Action::Details => self.details(m),
            Action::Back => {
                self.incident_open = None;
                self.detail_zoom = false;
                self.message = None;
                if self.focus == Focus::Detail {
                    self.focus = Focus::Packets;
                }
            }
            Action::Filter => {
                self.overlay = Overlay::Filter(FilterInput {
                    text: self.filter_text.clone(),
                    error: None,
                });
            }
            Action::Pause => {
                self.paused = !self.paused;
                return vec![Effect::SetPaused(self.paused)];
            }
            Action::Block => self.open_block(m),
            Action::Write => self.open_export(m),
            Action::Acknowledge => {
                return self.edit_incident(m, IncidentEdit::State(IncidentState::Acknowledged))
            }
            Action::Resolve => {
                return self.edit_incident(m, IncidentEdit::State(IncidentState::Resolved))
            }
            Action::Note => match self.incident_target(m) {
                Some(id) => {
                    self.overlay = Overlay::Note {
                        incident: id,
                        text: String::new(),
                    }
                }
                None => self.report(
                    "select an incident first (tab to the incident pane)".into(),
                    false,
                ),
            },
            Action::Reload => {
                self.report("reloading signatures…".into(), true);
                return vec![Effect::ReloadSignatures];
            }
            Action::Copy => {
                if let Some(ip) = self.target_addr(m) {
                    self.report(format!("copied {ip} to the clipboard"), true);
                    return vec![Effect::Copy(ip.to_string())];
                }
            }
            Action::Overview => {
                self.tab = match self.tab {
                    Tab::Main => Tab::Overview,
                    Tab::Overview => Tab::Main,
                };
            }
            Action::Help => self.overlay = Overlay::Help,
            Action::Quit => {
                if self.pending_actions > 0 && !self.quit_armed {
                    self.quit_armed = true;
                    self.report(
                        format!(
                            "{} action(s) still pending; press q again to quit",
                            self.pending_actions
                        ),
                        false,
                    );
                } else {
                    return vec![Effect::Quit];
                }
            }
        }
        Vec::new()
    }

    fn page(&self) -> isize {
        isize::try_from(self.table_height.get().max(2) - 1).unwrap_or(10)
    }

    fn step(&mut self, m: &Model, delta: isize) {
        match self.focus {
            Focus::Packets => {
                let n = self.view.len();
                let Some(cur) = self.selected_index() else {
                    return;
                };
                let next = cur.saturating_add_signed(delta).min(n - 1);
                self.follow = next + 1 == n && delta > 0;
                self.selected = self.view.get(next);
            }
            Focus::Incidents => {
                let list: Vec<u64> = self.incident_list(m).map(|i| i.id).collect();
                let cur = self
                    .selected_incident(m)
                    .and_then(|s| list.iter().position(|id| *id == s.id))
                    .unwrap_or(0);
                let next = cur
                    .saturating_add_signed(delta)
                    .min(list.len().saturating_sub(1));
                self.incident = list.get(next).copied();
            }
            Focus::Detail => {
                let d = i32::try_from(delta.clamp(-1000, 1000)).unwrap_or(0);
                self.detail_scroll =
                    u16::try_from((i32::from(self.detail_scroll) + d).max(0)).unwrap_or(u16::MAX);
            }
        }
    }

    fn details(&mut self, m: &Model) {
        match self.focus {
            Focus::Packets => {
                self.detail_zoom = !self.detail_zoom;
                self.incident_open = None;
                self.detail_scroll = 0;
            }
            Focus::Incidents => {
                self.incident_open = self.selected_incident(m).map(|i| i.id);
                self.incident = self.incident_open;
                self.detail_scroll = 0;
                self.focus = Focus::Detail;
            }
            Focus::Detail => self.detail_zoom = !self.detail_zoom,
        }
    }

    /// The address `b` and `y` act on: the selected incident's source in the incident pane,
    /// otherwise the selected packet's source.
    fn target_addr(&self, m: &Model) -> Option<IpAddr> {
        if self.focus == Focus::Incidents || self.incident_open.is_some() {
            if let Some(ip) = self.selected_incident(m).and_then(|i| i.source) {
                return Some(ip);
            }
        }
        self.selected_row(m).and_then(Row::src)
    }

    fn open_block(&mut self, m: &Model) {
        let Some(ip) = self.target_addr(m) else {
            self.report("no address selected to block".into(), false);
            return;
        };
        let incident = (self.focus == Focus::Incidents || self.incident_open.is_some())
            .then(|| self.selected_incident(m))
            .flatten();
        let reason = match (
            incident,
            self.selected_row(m).and_then(|r| r.threat.as_ref()),
        ) {
            (Some(i), _) => format!("incident #{}: {} ({} alerts)", i.id, i.category, i.count),
            (None, Some(t)) => format!("{}: {}", t.category, t.description),
            _ => "blocked from the console".into(),
        };
        self.overlay = Overlay::Confirm(self.block.plan(ip, reason, incident.map(|i| i.id)));
    }

    fn open_export(&mut self, m: &Model) {
        let scope = if self.focus == Focus::Incidents || self.incident_open.is_some() {
            ExportScope::Incident
        } else if self.view.filter().is_some() {
            ExportScope::Filtered
        } else {
            ExportScope::All
        };
        self.overlay = Overlay::Export(ExportInput {
            scope,
            path: self.default_path(scope),
            incident: self.selected_incident(m).map(|i| i.id),
        });
    }
}
