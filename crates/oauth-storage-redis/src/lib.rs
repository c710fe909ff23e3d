//! Placeholder: filled by the Redis storage issue.
