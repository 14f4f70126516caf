//! The `nsm-tui` binary: parse arguments, load configuration, run.
fn main() {}
