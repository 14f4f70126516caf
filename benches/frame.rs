//! Frame-time bench for the console (filled in below).
fn main() {}
