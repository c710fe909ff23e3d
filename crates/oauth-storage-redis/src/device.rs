//! [`DeviceStore`] over Redis: a device authorization is one hash, and its
//! user-code key one string, sharing the hash tag of the authorization's
//! shard (`{dev-<shard>}`), so creating both is one script on one hash slot;
//! a decision and a poll are each one script on the hash.

use async_trait::async_trait;
use oauth_core::device::DeviceKey;
use oauth_core::storage::{
    DecideOutcome, DeviceApproval, DeviceDecision, DevicePoll, DeviceRecord, DeviceStatus, DeviceStore, PollOutcome,
    StorageResult,
};
use oauth_core::types::TokenHash;

use crate::codec::{self, corrupt};
use crate::scripts;
use crate::store::RedisStore;

/// A stored record the scripts cannot read.
#[derive(Debug, thiserror::Error)]
#[error("device record field {0} is missing or malformed")]
struct BadField(&'static str);

fn status_char(status: &DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::Pending => "p",
        DeviceStatus::Approved(_) => "a",
        DeviceStatus::Denied => "d",
        DeviceStatus::Issued => "x",
    }
}

fn number(value: Option<&String>, field: &'static str) -> StorageResult<u64> {
    value.and_then(|v| v.parse().ok()).ok_or_else(|| corrupt(BadField(field)))
}

#[async_trait]
impl DeviceStore for RedisStore {
    async fn put_device(&self, device: &DeviceKey, user: &DeviceKey, record: &DeviceRecord) -> StorageResult<bool> {
        let keep_until = record.keep_until();
        if keep_until <= self.now() {
            // Expired already: as if stored and dropped at once.
            return Ok(true);
        }
        let mut inv = scripts::PUT_DEVICE.prepare_invoke();
        inv.key(self.keys().device_user(user))
            .key(self.keys().device(device))
            .arg(device.hash.to_hex())
            .arg(keep_until)
            .arg(record.client_id.as_str())
            .arg(record.expires_at)
            .arg(record.interval)
            .arg(record.last_poll)
            .arg(status_char(&record.status))
            .arg(codec::encode(record)?);
        Ok(self.script::<i64>(inv).await? == 1)
    }

    async fn find_device(&self, user: &DeviceKey) -> StorageResult<Option<(DeviceKey, DeviceRecord)>> {
        let hex: Option<String> = self.query(redis::cmd("GET").arg(self.keys().device_user(user))).await?;
        let Some(hex) = hex else { return Ok(None) };
        let hash = TokenHash::from_hex(&hex).ok_or_else(|| corrupt(BadField("user code pointer")))?;
        let device = DeviceKey { shard: user.shard, hash };
        let fields: std::collections::HashMap<String, String> =
            self.query(redis::cmd("HGETALL").arg(self.keys().device(&device))).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let mut record: DeviceRecord =
            codec::decode(fields.get("r").ok_or_else(|| corrupt(BadField("r")))?.as_bytes())?;
        record.interval = number(fields.get("i"), "i")?;
        record.last_poll = number(fields.get("l"), "l")?;
        record.status = match fields.get("s").map(String::as_str) {
            Some("p") => DeviceStatus::Pending,
            Some("a") => {
                let approval = fields.get("a").ok_or_else(|| corrupt(BadField("a")))?;
                DeviceStatus::Approved(codec::decode(approval.as_bytes())?)
            }
            Some("d") => DeviceStatus::Denied,
            Some("x") => DeviceStatus::Issued,
            _ => return Err(corrupt(BadField("s"))),
        };
        Ok(Some((device, record)))
    }

    async fn decide_device(
        &self,
        device: &DeviceKey,
        decision: &DeviceDecision,
        now: u64,
    ) -> StorageResult<DecideOutcome> {
        let (status, approval) = match decision {
            DeviceDecision::Approve(approval) => ("a", codec::encode(approval)?),
            DeviceDecision::Deny => ("d", String::new()),
        };
        let mut inv = scripts::DECIDE_DEVICE.prepare_invoke();
        inv.key(self.keys().device(device)).arg(now).arg(status).arg(approval);
        Ok(match self.script::<i64>(inv).await? {
            1 => DecideOutcome::Decided,
            2 => DecideOutcome::AlreadyDecided,
            _ => DecideOutcome::Unknown,
        })
    }

    async fn poll_device(&self, device: &DeviceKey, poll: &DevicePoll) -> StorageResult<PollOutcome> {
        let mut inv = scripts::POLL_DEVICE.prepare_invoke();
        inv.key(self.keys().device(device))
            .arg(poll.client_id.as_str())
            .arg(poll.now)
            .arg(oauth_core::device::SLOW_DOWN_STEP);
        let reply: Vec<String> = self.script(inv).await?;
        Ok(match reply.first().map(String::as_str) {
            Some("unknown") => PollOutcome::Unknown,
            Some("other") => PollOutcome::OtherClient,
            Some("expired") => PollOutcome::Expired,
            Some("slow") => PollOutcome::SlowDown(number(reply.get(1), "i")?),
            Some("pending") => PollOutcome::Pending,
            Some("denied") => PollOutcome::Denied,
            Some("issued") => PollOutcome::Issued,
            Some("approved") => {
                let approval: DeviceApproval =
                    codec::decode(reply.get(1).ok_or_else(|| corrupt(BadField("a")))?.as_bytes())?;
                let mut record: DeviceRecord =
                    codec::decode(reply.get(2).ok_or_else(|| corrupt(BadField("r")))?.as_bytes())?;
                record.interval = number(reply.get(3), "i")?;
                record.last_poll = poll.now;
                record.status = DeviceStatus::Issued;
                PollOutcome::Approved(record, approval)
            }
            _ => return Err(corrupt(BadField("poll reply"))),
        })
    }
}
