//! RedisStore against real Redis servers: the conformance suite, atomicity
//! under concurrency, TTLs, outages, and a real local Redis Cluster.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod cluster; // the conformance suite and atomic operations on a three-master cluster
mod conformance; // oauth_core::storage::conformance on one Redis
mod expiry; // every key has its TTL; no raw code or token in any key or value
mod outage; // a stopped Redis gives errors fast, and service resumes without a restart
mod records; // opaque records with expiry: one key each, always a TTL
mod support; // store construction per test
mod tls; // rediss:// against a TLS-only redis-server with a throwaway CA: the conformance suite
mod version; // the server's version is read on connect, and an unsupported one refused
