//! The oauth-core storage traits over Redis: each call is one command, one
//! transaction or one script on one key (or keys sharing a hash tag).

use std::sync::Arc;

use async_trait::async_trait;
use oauth_core::client::Client;
use oauth_core::storage::{
    ClientStore, CodeRecord, CodeStore, CodeTake, ConsentStore, GrantRecord, NewTokens, REVOCATION_HOLD, RefreshLookup,
    RefreshOutcome, RefreshRequest, RetiredUse, RetryAnswer, StorageResult, ThrottleStore, TokenRecord, TokenStore,
    UserStore,
};
use oauth_core::throttle::{Failures, ThrottleKey};
use oauth_core::types::{ClientId, GrantId, ScopeSet, Subject, TokenHash, TokenKey};
use oauth_core::user::User;

use crate::codec::{self, corrupt};
use crate::keys;
use crate::scripts;
use crate::store::RedisStore;

#[async_trait]
impl ClientStore for RedisStore {
    async fn get_client(&self, id: &ClientId) -> StorageResult<Option<Arc<Client>>> {
        let raw: Option<Vec<u8>> = self.query(redis::cmd("GET").arg(self.keys().client(id))).await?;
        Ok(raw.map(|r| codec::decode(&r)).transpose()?.map(Arc::new))
    }

    async fn put_client(&self, client: &Client) -> StorageResult<()> {
        let json = codec::encode(client)?;
        let mut inv = scripts::PUT_CLIENT.prepare_invoke();
        inv.key(self.keys().client(&client.id)).key(self.keys().client_ids()).arg(json).arg(client.id.as_str());
        self.script::<i64>(inv).await.map(|_| ())
    }

    async fn delete_client(&self, id: &ClientId) -> StorageResult<bool> {
        let mut inv = scripts::DELETE_CLIENT.prepare_invoke();
        inv.key(self.keys().client(id)).key(self.keys().client_ids()).arg(id.as_str());
        Ok(self.script::<i64>(inv).await? > 0)
    }

    async fn list_clients(&self) -> StorageResult<Vec<Client>> {
        let mut ids: Vec<String> = self.query(redis::cmd("SMEMBERS").arg(self.keys().client_ids())).await?;
        ids.sort();
        let mut clients = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(client) = self.get_client(&ClientId::new(id)).await? {
                clients.push(Arc::unwrap_or_clone(client));
            }
        }
        Ok(clients)
    }
}

#[async_trait]
impl CodeStore for RedisStore {
    async fn put_code(&self, hash: &TokenHash, record: &CodeRecord) -> StorageResult<()> {
        if record.expires_at <= self.now() {
            return Ok(());
        }
        let value = codec::encode_code(record)?;
        self.query::<()>(redis::cmd("SET").arg(self.keys().code(hash)).arg(value).arg("EXAT").arg(record.expires_at))
            .await
    }

    async fn take_code(&self, hash: &TokenHash) -> StorageResult<CodeTake> {
        let mut inv = scripts::TAKE_CODE.prepare_invoke();
        inv.key(self.keys().code(hash));
        let raw: Option<Vec<u8>> = self.script(inv).await?;
        let Some(raw) = raw else { return Ok(CodeTake::Unknown) };
        Ok(match codec::decode_code(&raw)? {
            CodeTake::Taken(record) if record.expires_at <= self.now() => CodeTake::Unknown,
            outcome => outcome,
        })
    }
}

#[async_trait]
impl TokenStore for RedisStore {
    /// One transaction: the grant's tokens, with the family's expiry, and
    /// two checks read after them: whether the grant was revoked before (its
    /// key holds the `v` tombstone) and whether its client's grants were (the
    /// client's revocation mark, see `revoke_client_grants`). When either
    /// holds, the tokens just written (never handed out) are revoked again.
    /// On a cluster the mark is on another slot, so it is read in a second
    /// request, after the transaction. Nothing is written per grant besides
    /// the family itself.
    async fn create_grant(&self, grant: &GrantRecord, tokens: &NewTokens) -> StorageResult<bool> {
        let (fields, expires) = codec::token_fields(tokens);
        let key = self.keys().grant(&grant.id);
        let mark = self.keys().client_revoked(&grant.client_id);
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("HSET").arg(&key);
        for (field, value) in fields {
            pipe.arg(field).arg(value);
        }
        pipe.ignore().cmd("EXPIREAT").arg(&key).arg(expires).ignore();
        pipe.cmd("HEXISTS").arg(&key).arg(keys::REVOKED_FIELD);
        let (revoked, client_revoked) = if self.is_cluster() {
            let (revoked,): (bool,) = self.pipeline(&pipe).await?;
            (revoked, self.query::<bool>(redis::cmd("EXISTS").arg(&mark)).await?)
        } else {
            pipe.cmd("EXISTS").arg(&mark);
            self.pipeline::<(bool, bool)>(&pipe).await?
        };
        if revoked || client_revoked {
            self.revoke_grant(&grant.id).await?;
            return Ok(false);
        }
        Ok(true)
    }

    async fn get_access_token(&self, key: &TokenKey) -> StorageResult<Option<TokenRecord>> {
        let cmd = redis::cmd("HGET").arg(self.keys().grant(&key.grant)).arg(keys::access_field(&key.hash)).clone();
        let raw: Option<Vec<u8>> = self.query(&cmd).await?;
        let now = self.now();
        Ok(raw.map(|r| codec::decode_token(&key.grant, &r)).transpose()?.filter(|r| r.expires_at > now))
    }

    async fn get_refresh_token(&self, key: &TokenKey) -> StorageResult<RefreshLookup> {
        let cmd = redis::cmd("HMGET")
            .arg(self.keys().grant(&key.grant))
            .arg(keys::refresh_field(&key.hash))
            .arg(keys::rotated_field(&key.hash))
            .clone();
        let (active, rotated): (Option<Vec<u8>>, Option<Vec<u8>>) = self.query(&cmd).await?;
        Ok(match (active, rotated) {
            (Some(raw), _) => {
                let record = codec::decode_token(&key.grant, &raw)?;
                if record.expires_at > self.now() { RefreshLookup::Active(record) } else { RefreshLookup::Unknown }
            }
            (None, Some(marker)) if codec::marker_live(&marker, self.now()) => {
                RefreshLookup::Rotated { grant_id: key.grant.clone() }
            }
            (None, _) => RefreshLookup::Unknown,
        })
    }

    /// One script, so one round trip: see `scripts::REFRESH`.
    async fn refresh(&self, old: &TokenKey, request: &RefreshRequest) -> StorageResult<RefreshOutcome> {
        let mut inv = scripts::REFRESH.prepare_invoke();
        inv.key(self.keys().grant(&old.grant))
            .arg(keys::short_hash(&old.hash))
            .arg(request.now)
            .arg(codec::length_prefixed(request.client_id.as_str()))
            .arg(if request.scope.is_some() { "1" } else { "0" })
            .arg(request.scope.as_ref().map(ToString::to_string).unwrap_or_default())
            .arg(keys::access_field(&request.access.0))
            .arg(request.access.1)
            .arg(request.refresh.map(|(hash, _)| keys::refresh_field(&hash)).unwrap_or_default())
            .arg(request.refresh.map_or(0, |(_, lifetime)| lifetime))
            .arg(request.grace.as_ref().map(codec::encode_retry).unwrap_or_default())
            .arg(request.jkt.as_deref().map(codec::length_prefixed).unwrap_or_default());
        let (status, raw): (i64, Vec<u8>) = self.script(inv).await?;
        Ok(match status {
            1 => RefreshOutcome::Refreshed(codec::decode_token(&old.grant, &raw)?),
            2 => RefreshOutcome::Reused,
            // As for refusals, the script's decision is checked against core's rule.
            4 => match codec::decode_retry(&raw) {
                Some(answer) if RetryAnswer::decide(Some(&answer), request.now) == RetiredUse::Retry => {
                    RefreshOutcome::Retried(answer.sealed)
                }
                _ => RefreshOutcome::Unknown,
            },
            // The script and `check` apply the same rules; should they ever
            // disagree, the token is refused as unknown.
            3 => request
                .check(&codec::decode_token(&old.grant, &raw)?)
                .err()
                .map_or(RefreshOutcome::Unknown, RefreshOutcome::Refused),
            _ => RefreshOutcome::Unknown,
        })
    }

    /// One script on the family's key: see `scripts::ADD_ACCESS`.
    async fn add_access_token(&self, key: &TokenKey, record: &TokenRecord) -> StorageResult<bool> {
        if record.grant_id != key.grant {
            return Ok(false);
        }
        let expires = record.expires_at.min(record.grant_expires_at);
        let record = TokenRecord { expires_at: expires, ..record.clone() };
        let mut inv = scripts::ADD_ACCESS.prepare_invoke();
        inv.key(self.keys().grant(&key.grant))
            .arg(keys::access_field(&key.hash))
            .arg(codec::encode_token(&record))
            .arg(expires)
            .arg(self.now())
            .arg(oauth_core::storage::MAX_FAMILY_ENTRIES);
        let added: i64 = self.script(inv).await?;
        Ok(added == 1)
    }

    async fn revoke_access_token(&self, key: &TokenKey) -> StorageResult<()> {
        let cmd = redis::cmd("HDEL").arg(self.keys().grant(&key.grant)).arg(keys::access_field(&key.hash)).clone();
        self.query::<i64>(&cmd).await.map(|_| ())
    }

    /// Replaces the family with the `v` tombstone, for `REVOCATION_HOLD`.
    async fn revoke_grant(&self, id: &GrantId) -> StorageResult<()> {
        let key = self.keys().grant(id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .cmd("HSET")
            .arg(&key)
            .arg(keys::REVOKED_FIELD)
            .arg("")
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(REVOCATION_HOLD)
            .ignore();
        self.pipeline(&pipe).await
    }

    /// Sets the client's revocation mark (for `REVOCATION_HOLD`), then
    /// scans every family (`SCAN` on each primary) and revokes those of the
    /// client. A grant created before the mark is a key the scan finds
    /// (`SCAN` returns every key present for the whole scan); one created
    /// after reads the mark in its own transaction and revokes itself.
    /// Nothing is indexed per grant, so issuing costs nothing for this;
    /// deleting a client, an administrator's rare act, reads every family.
    async fn revoke_client_grants(&self, client: &ClientId) -> StorageResult<u64> {
        let mark = self.keys().client_revoked(client);
        self.query::<()>(redis::cmd("SET").arg(&mark).arg("").arg("EX").arg(REVOCATION_HOLD)).await?;
        let families = self.keys().grant(&GrantId::new(""));
        let pattern = format!("{}*", glob_escape(&families));
        let mut revoked = 0;
        for node in self.scan_nodes().await? {
            let mut cursor = 0;
            loop {
                let (next, keys) = self.scan(&node, cursor, &pattern).await?;
                for key in &keys {
                    let Some(id) = key.strip_prefix(&families) else { continue };
                    let id = GrantId::new(id);
                    let fields: Vec<(Vec<u8>, Vec<u8>)> = self.query(redis::cmd("HGETALL").arg(key)).await?;
                    // Any token of the family names its client.
                    let token = fields.iter().find(|(field, _)| matches!(field.first(), Some(b'a' | b'r')));
                    let Some((_, value)) = token else { continue };
                    if codec::decode_token(&id, value)?.client_id == *client {
                        self.revoke_grant(&id).await?;
                        revoked += 1;
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(revoked)
    }
}

/// `text` with Redis glob characters escaped, for `SCAN MATCH`.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[async_trait]
impl UserStore for RedisStore {
    async fn find_user(&self, username: &str) -> StorageResult<Option<User>> {
        let raw: Option<Vec<u8>> = self.query(redis::cmd("GET").arg(self.keys().user(username))).await?;
        raw.map(|r| codec::decode(&r)).transpose()
    }

    async fn get_user(&self, subject: &Subject) -> StorageResult<Option<User>> {
        let username: Option<String> = self.query(redis::cmd("GET").arg(self.keys().subject(subject))).await?;
        let Some(username) = username else { return Ok(None) };
        Ok(self.find_user(&username).await?.filter(|u| &u.subject == subject))
    }

    async fn put_user(&self, user: &User) -> StorageResult<()> {
        let mut inv = scripts::PUT_USER.prepare_invoke();
        inv.key(self.keys().user(&user.username))
            .key(self.keys().subject(&user.subject))
            .arg(codec::encode(user)?)
            .arg(&user.username);
        self.script::<i64>(inv).await.map(|_| ())
    }
}

#[async_trait]
impl ConsentStore for RedisStore {
    async fn get_consent(&self, subject: &Subject, client: &ClientId) -> StorageResult<Option<ScopeSet>> {
        let raw: Option<String> = self.query(redis::cmd("GET").arg(self.keys().consent(subject, client))).await?;
        raw.map(|s| ScopeSet::parse(&s).map_err(corrupt)).transpose()
    }

    async fn put_consent(
        &self,
        subject: &Subject,
        client: &ClientId,
        scope: &ScopeSet,
        expires_at: u64,
    ) -> StorageResult<()> {
        let key = self.keys().consent(subject, client);
        self.query::<()>(redis::cmd("SET").arg(key).arg(scope.to_string()).arg("EXAT").arg(expires_at)).await
    }

    async fn revoke_consent(&self, subject: &Subject, client: &ClientId) -> StorageResult<bool> {
        Ok(self.query::<i64>(redis::cmd("DEL").arg(self.keys().consent(subject, client))).await? > 0)
    }
}

/// Each counter is one key: its increment and its expiry in one script,
/// so the window is set exactly once, by the first failure, on any instance.
#[async_trait]
impl ThrottleStore for RedisStore {
    async fn record_failure(&self, key: &ThrottleKey, window: u64) -> StorageResult<Failures> {
        let mut inv = scripts::RECORD_FAILURE.prepare_invoke();
        inv.key(self.keys().throttle(key)).arg(window.max(1));
        let (count, ttl): (i64, i64) = self.script(inv).await?;
        Ok(failures(count, ttl))
    }

    async fn failures(&self, key: &ThrottleKey) -> StorageResult<Failures> {
        let mut inv = scripts::FAILURES.prepare_invoke();
        inv.key(self.keys().throttle(key));
        let (count, ttl): (i64, i64) = self.script(inv).await?;
        Ok(failures(count, ttl))
    }

    async fn clear_failures(&self, key: &ThrottleKey) -> StorageResult<()> {
        self.query::<i64>(redis::cmd("DEL").arg(self.keys().throttle(key))).await.map(|_| ())
    }
}

fn failures(count: i64, ttl: i64) -> Failures {
    Failures {
        count: u32::try_from(count.max(0)).unwrap_or(u32::MAX),
        resets_in: u64::try_from(ttl.max(0)).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every store call's future is boxed, so its whole size is allocated and
    /// copied per call. Making a connection awaits the pool, whose future is
    /// kilobytes; inlined, it made each call's future 13.6 KB (copying it was
    /// ~2% of the server's CPU under introspection).
    #[test]
    fn store_call_futures_stay_small() {
        let store = RedisStore::from_url("redis://127.0.0.1:1").unwrap_or_else(|e| panic!("{e}"));
        let key = TokenKey { grant: GrantId::new("g"), hash: TokenHash::of("t") };
        let sizes = [
            ("get_access_token", std::mem::size_of_val(&*store.get_access_token(&key))),
            ("revoke_access_token", std::mem::size_of_val(&*store.revoke_access_token(&key))),
            ("take_code", std::mem::size_of_val(&*store.take_code(&key.hash))),
            ("get_client", std::mem::size_of_val(&*store.get_client(&ClientId::new("c")))),
        ];
        for (call, size) in sizes {
            assert!(size <= 2048, "{call}: {size} bytes");
        }
    }
}
