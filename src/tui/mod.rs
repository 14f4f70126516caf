//! The terminal console: UI state and keymap, one file per pane (each a free
//! `render(frame, &state, area)`), the model adapter fed by the pipeline, the block and export
//! actions, and the event loop that ties them to a real terminal.
//!
//! Everything here runs on the UI thread except `ModelObserver` (aggregator thread) and the
//! effect executor (its own thread).

pub mod app;
pub mod baselines;
pub mod detail;
pub mod detail_app;
pub mod dialog;
pub mod draw;
pub mod effects;
pub mod filter_box;
pub mod fmt;
pub mod help;
pub mod incident_edit;
pub mod incidents;
pub mod keymap;
pub mod overlay_keys;
pub mod overview;
pub mod packets;
pub mod shared;
pub mod status;
pub mod terminal;
pub mod theme;
pub mod view;

pub use app::{App, Effect};
pub use draw::draw;
pub use shared::{ModelObserver, Shared};
