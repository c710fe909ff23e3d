//! Integration tests of the protocol engine: tables of requests and the answers RFC 6749 and friends require.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod assertion; // private_key_jwt client assertions (RFC 7523 §3), one row per defect
mod authorize; // authorization endpoint validation table (aioauth §2.1 rows and ours)
mod contract; // the answers of the public documents and of protected-resource authentication
mod device; // the device authorization grant (RFC 8628): endpoint, user codes, every poll answer
mod dpop; // DPoP proof checks of RFC 9449 §4.3, one row per defect
mod dpop_flows; // DPoP at the endpoints: bound tokens, refresh, dpop_jkt, nonces, replays, resources
mod exchange; // token exchange (RFC 8693): refusals, delegation chains, impersonation, lifetimes, revocation
mod family; // token-family integrity: code replay at any moment, client deletion
mod fapi; // the FAPI 2.0 switch, server-wide and per client: each requirement refused and met
mod grants; // extension grants, replacing built-ins, Argon2 on the Offload
mod introspection; // RFC 7662 and RFC 7009 (aioauth §2.3, §2.4)
mod memory_store; // the storage conformance suite on MemoryStore
mod metadata; // RFC 8414 document
mod oidc; // ID tokens, JWT access tokens, UserInfo, prompt and max_age, key rotation
mod par; // pushed authorization requests (RFC 9126): push, use once, expiry, required PAR
mod private_key_jwt; // private_key_jwt at the token, introspection and revocation endpoints
mod refresh; // refresh rotation, reuse detection, absolute lifetime
mod robustness; // random requests: no panic, well-formed answers, no redirect to an unverified URI
mod support; // the one place that drives AuthorizationServer
mod throttle; // failed-attempt limits at the token endpoints and the login checks
mod token; // token endpoint table (aioauth §2.2 rows and ours)
