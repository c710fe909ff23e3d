//! Placeholder: filled by the HTTP adapter issue.
