//! HTTP tests through the real actix app (in process, no socket), and one end-to-end test of the binary.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod consent; // each consent form answers its own request; cookie-less pages store nothing; limits; full stores
mod device; // the device authorization grant (RFC 8628): pages, polls, throttling, the oauth2 crate, two instances
mod dpop; // DPoP through the binary: bound tokens, UserInfo, refresh keys, nonces, a proof raced on two instances
mod e2e; // the real binary on a free port, driven over HTTP, code exchanged with the oauth2 crate
mod exchange; // token exchange (RFC 8693): refusals, a three-service delegation chain, revocation, on memory and Redis
mod family; // the refresh grace period through the binary
mod flow; // the seed's browser flow, deny, login and CSRF failures, session fixation
mod hardening; // __Host- cookies, HSTS, the admin listener
mod interop_node; // panva's openid-client (Node.js) drives the binary: code flow, ID tokens, refresh, client_credentials
mod metrics; // /metrics counters move after real requests; no secret in labels
mod oidc_rp; // the openidconnect crate as relying party, for RS256, ES256 and EdDSA
mod par; // pushed authorization requests: the browser flow with request_uri, required PAR, a request_uri raced on two instances
mod private_key_jwt; // private_key_jwt: inline jwks, a fetched jwks_uri, one assertion raced on two instances
mod prompt; // prompt=none, prompt=login, max_age, remembered consent, login_hint
mod protocol_errors; // error pages, methods, content types, limits, probes
mod redis; // on Redis: two instances, concurrency across processes, outage, the client CLI
mod rotation; // SIGHUP reloads the signing keys; old tokens still verify, new ones carry the new kid
mod sessions; // the session store conformance suite on memory and on Redis
mod support; // the test configuration and app
mod throttle; // failed-attempt limits at /login and the token endpoint, forwarded addresses
