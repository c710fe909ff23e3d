//! The repository's rules, checked on the workspace itself.

mod deps; // the crate dependency rules of docs/ARCHITECTURE.md
