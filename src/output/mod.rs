//! Outputs that leave the process as text: the EVE JSON writer.
//!
//! Called from the aggregator thread; each writer owns its `io::Write` sink and reports write
//! failures as `io::Error`.

pub mod eve;
