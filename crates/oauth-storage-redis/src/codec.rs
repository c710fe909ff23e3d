//! Stored forms of the records.
//!
//! Token records, the bulk of the data, use a compact binary layout (a live
//! access token must cost under 300 bytes of Redis memory). Everything else
//! is JSON.
//!
//! Token layout (little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | flags: 1 = subject, 2 = auth time, 4 = grant expiry differs from expiry, 8 = DPoP-bound, 16 = exchanged |
//! | 4 | expires_at (u32 Unix seconds; the Lua rotation script reads it here) |
//! | 4 | issued_at |
//! | 4 | grant_expires_at, when flag 4 |
//! | 4 | auth_time, when flag 2 |
//! | 2 + n | DPoP key thumbprint (`jkt`), when flag 8 |
//! | 2 + n | client id (u16 length, UTF-8) |
//! | 2 + n | subject, when flag 1 |
//! | 2 + n | what token exchange recorded (`Exchanged`: `act`, `aud`) as JSON, when flag 16 |
//! | rest | scope (space-separated) |
//!
//! The grant id is the key's and is not repeated. Flag 16 appears only on
//! access tokens (token exchange issues no refresh token), which the refresh
//! script never rewrites; records written before it existed have no flag 16
//! and decode as before.

use oauth_core::storage::{CodeRecord, CodeTake, NewTokens, RetryAnswer, StorageError, TokenRecord};
use oauth_core::types::{ClientId, GrantId, ScopeSet, Subject};
use serde::{Deserialize, Serialize};

use crate::keys;

const SUBJECT: u8 = 1;
const AUTH_TIME: u8 = 2;
const GRANT_EXPIRY: u8 = 4;
const BOUND: u8 = 8;
const EXCHANGED: u8 = 16;

/// Times are stored as u32 seconds; later values are clamped (year 2106).
fn u32_time(t: u64) -> [u8; 4] {
    u32::try_from(t).unwrap_or(u32::MAX).to_le_bytes()
}

/// `s` as a record holds it: u16 length, then the bytes (truncated to 65,535).
pub(crate) fn length_prefixed(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 2);
    push_str(&mut out, s);
    out
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&u16::try_from(bytes.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Encodes a token record (its grant id is the key's). An `Exchanged` whose
/// JSON would not fit its u16 length is stored without `aud`, then without
/// anything (core bounds both far below that).
pub(crate) fn encode_token(record: &TokenRecord) -> Vec<u8> {
    let mut flags = 0;
    if record.subject.is_some() {
        flags |= SUBJECT;
    }
    if record.auth_time.is_some() {
        flags |= AUTH_TIME;
    }
    if record.grant_expires_at != record.expires_at {
        flags |= GRANT_EXPIRY;
    }
    if record.jkt.is_some() {
        flags |= BOUND;
    }
    let exchanged = record
        .exchange
        .as_deref()
        .and_then(|e| serde_json::to_string(e).ok())
        .filter(|json| json.len() <= usize::from(u16::MAX));
    if exchanged.is_some() {
        flags |= EXCHANGED;
    }
    let mut out = Vec::with_capacity(32);
    out.push(flags);
    out.extend_from_slice(&u32_time(record.expires_at));
    out.extend_from_slice(&u32_time(record.issued_at));
    if flags & GRANT_EXPIRY != 0 {
        out.extend_from_slice(&u32_time(record.grant_expires_at));
    }
    if let Some(t) = record.auth_time {
        out.extend_from_slice(&u32_time(t));
    }
    if let Some(jkt) = &record.jkt {
        push_str(&mut out, jkt);
    }
    push_str(&mut out, record.client_id.as_str());
    if let Some(subject) = &record.subject {
        push_str(&mut out, subject.as_str());
    }
    if let Some(json) = &exchanged {
        push_str(&mut out, json);
    }
    out.extend_from_slice(record.scope.to_string().as_bytes());
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StorageError> {
        if self.0.len() < n {
            return Err(StorageError::Corrupt("truncated token record".into()));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn time(&mut self) -> Result<u64, StorageError> {
        let b = self.take(4)?;
        Ok(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }

    fn string(&mut self) -> Result<String, StorageError> {
        let len = self.take(2)?;
        let len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        String::from_utf8(self.take(len)?.to_vec()).map_err(corrupt)
    }
}

/// Decodes a token record stored under `grant`.
pub(crate) fn decode_token(grant: &GrantId, bytes: &[u8]) -> Result<TokenRecord, StorageError> {
    let mut r = Reader(bytes);
    let flags = r.take(1)?[0];
    let expires_at = r.time()?;
    let issued_at = r.time()?;
    let grant_expires_at = if flags & GRANT_EXPIRY != 0 { r.time()? } else { expires_at };
    let auth_time = if flags & AUTH_TIME != 0 { Some(r.time()?) } else { None };
    let jkt = if flags & BOUND != 0 { Some(r.string()?) } else { None };
    let client_id = ClientId::new(r.string()?);
    let subject = if flags & SUBJECT != 0 { Some(Subject::new(r.string()?)) } else { None };
    let exchange = if flags & EXCHANGED != 0 { Some(Box::new(decode(r.string()?.as_bytes())?)) } else { None };
    let scope = std::str::from_utf8(r.0).map_err(corrupt)?;
    let scope = ScopeSet::parse(scope).map_err(corrupt)?;
    Ok(TokenRecord {
        grant_id: grant.clone(),
        client_id,
        subject,
        scope,
        issued_at,
        expires_at,
        grant_expires_at,
        auth_time,
        jkt,
        exchange,
    })
}

/// Whether a retired refresh token's marker still detects reuse at `now`: it
/// holds the retired token's expiry (u32 LE); an empty marker, from before
/// markers held one, lives as long as its family.
pub(crate) fn marker_live(marker: &[u8], now: u64) -> bool {
    match <[u8; 4]>::try_from(marker) {
        Ok(expiry) => u64::from(u32::from_le_bytes(expiry)) > now,
        Err(_) => marker.is_empty(),
    }
}

/// A retry answer as the refresh script keeps it: its end (u32 LE), then the sealed tokens.
pub(crate) fn encode_retry(answer: &RetryAnswer) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + answer.sealed.len());
    out.extend_from_slice(&u32_time(answer.until));
    out.extend_from_slice(&answer.sealed);
    out
}

/// The retry answer the refresh script took.
pub(crate) fn decode_retry(raw: &[u8]) -> Option<RetryAnswer> {
    let (until, sealed) = raw.split_first_chunk::<4>()?;
    Some(RetryAnswer { until: u64::from(u32::from_le_bytes(*until)), sealed: sealed.to_vec() })
}

/// Encodes any record as JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(corrupt)
}

/// Decodes a JSON record.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(corrupt)
}

pub(crate) fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> StorageError {
    StorageError::Corrupt(Box::new(e))
}

/// Field/value pairs of new tokens, and the latest expiry among them.
pub(crate) fn token_fields(tokens: &NewTokens) -> (Vec<(Vec<u8>, Vec<u8>)>, u64) {
    let (access_hash, access) = &tokens.access;
    let mut fields = vec![(keys::access_field(access_hash), encode_token(access))];
    let mut expires = access.expires_at;
    if let Some((hash, refresh)) = &tokens.refresh {
        fields.push((keys::refresh_field(hash), encode_token(refresh)));
        expires = expires.max(refresh.expires_at);
    }
    (fields, expires)
}

/// The stored form of a live code: `L<grant id>\n<json>`. The take script
/// replaces it with the tombstone `U<grant id>`, keeping the TTL.
pub(crate) fn encode_code(record: &CodeRecord) -> Result<String, StorageError> {
    Ok(format!("L{}\n{}", record.grant_id.as_str(), encode(record)?))
}

/// Decodes what the take script answered: a live code's record (taken,
/// whatever its expiry; the caller checks it) or a used code's tombstone.
pub(crate) fn decode_code(raw: &[u8]) -> Result<CodeTake, StorageError> {
    match raw.split_first() {
        Some((b'U', grant)) => {
            let grant = String::from_utf8(grant.to_vec()).map_err(corrupt)?;
            Ok(CodeTake::Replayed { grant_id: GrantId::new(grant) })
        }
        Some((b'L', rest)) => {
            let json = rest.iter().position(|b| *b == b'\n').map(|i| &rest[i + 1..]).unwrap_or_default();
            Ok(CodeTake::Taken(decode(json)?))
        }
        _ => Err(StorageError::Corrupt("unrecognised code record".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_liveness_table() {
        let now = 1_767_225_600;
        let at = |t: u64| u32::try_from(t).unwrap_or(0).to_le_bytes().to_vec();
        for (marker, live) in [
            (at(now + 1), true),
            (at(now), false),
            (at(now - 1), false),
            (Vec::new(), true),
            (vec![1, 2, 3], false),
            (vec![0; 5], false),
        ] {
            assert_eq!(marker_live(&marker, now), live, "{marker:?}");
        }
    }

    #[test]
    fn code_framing_table() {
        let record = oauth_core::testing::code_record("grant-1", 1_767_225_660);
        let live = encode_code(&record).unwrap_or_else(|e| panic!("{e}"));
        assert!(live.starts_with("Lgrant-1\n"), "{live}");
        assert_eq!(decode_code(live.as_bytes()).ok(), Some(CodeTake::Taken(record)));
        assert_eq!(decode_code(b"Ugrant-1").ok(), Some(CodeTake::Replayed { grant_id: GrantId::new("grant-1") }));
        for corrupt in [&b""[..], b"X", b"Lgrant-1\nnot json", b"U\xff"] {
            assert!(decode_code(corrupt).is_err(), "{corrupt:?}");
        }
    }

    #[test]
    fn records_written_before_token_exchange_decode() {
        // flags 1 (subject), expiry, issued, client "c", subject "s", scope "a": a record as stored before flag 16.
        let mut old = vec![1];
        old.extend_from_slice(&1_767_229_200u32.to_le_bytes());
        old.extend_from_slice(&1_767_225_600u32.to_le_bytes());
        old.extend_from_slice(&[1, 0, b'c', 1, 0, b's', b'a']);
        let record = decode_token(&GrantId::new("g"), &old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (record.subject, record.exchange, record.scope.to_string()),
            (Some(Subject::new("s")), None, "a".into())
        );
        let mut bad = old.clone();
        bad[0] |= EXCHANGED;
        assert!(decode_token(&GrantId::new("g"), &bad).is_err(), "flag 16 without its JSON is corrupt");
    }

    #[test]
    fn token_round_trip_table() {
        let base = TokenRecord {
            grant_id: GrantId::new("g"),
            client_id: ClientId::new("machine"),
            subject: None,
            scope: ScopeSet::parse("read").unwrap_or_default(),
            issued_at: 1_767_225_600,
            expires_at: 1_767_229_200,
            grant_expires_at: 1_767_229_200,
            auth_time: None,
            jkt: None,
            exchange: None,
        };
        let full = TokenRecord {
            subject: Some(Subject::new("user-é")),
            auth_time: Some(1_767_225_500),
            grant_expires_at: 1_769_817_600,
            scope: ScopeSet::parse("openid email profile").unwrap_or_default(),
            ..base.clone()
        };
        let empty_scope = TokenRecord { scope: ScopeSet::empty(), ..base.clone() };
        let bound = TokenRecord { jkt: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()), ..full.clone() };
        let exchanged = TokenRecord {
            exchange: Some(Box::new(oauth_core::exchange::Exchanged {
                act: Some(oauth_core::exchange::Actor {
                    sub: "svc-b".into(),
                    iss: None,
                    act: Some(Box::new(oauth_core::exchange::Actor {
                        sub: "svc-a".into(),
                        iss: Some("https://idp".into()),
                        act: None,
                    })),
                }),
                aud: Some("https://api".into()),
            })),
            ..bound.clone()
        };
        let target_only = TokenRecord {
            exchange: Some(Box::new(oauth_core::exchange::Exchanged { act: None, aud: Some("a".into()) })),
            ..base.clone()
        };
        for record in [base, full, empty_scope, bound, exchanged, target_only] {
            let bytes = encode_token(&record);
            assert_eq!(decode_token(&record.grant_id, &bytes).ok(), Some(record.clone()));
            assert!(decode_token(&record.grant_id, &bytes[..8]).is_err(), "truncated");
        }
    }
}
