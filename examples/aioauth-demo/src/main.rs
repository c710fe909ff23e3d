//! Placeholder: filled by the server issue.
fn main() {}
