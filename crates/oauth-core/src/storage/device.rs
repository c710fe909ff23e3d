//! [`DeviceStore`]: device authorizations (RFC 8628) between the device
//! authorization request and the issuance of their tokens, with the rules
//! every store applies ([`DeviceRecord::decide`], [`DevicePoll::apply`]).

use async_trait::async_trait;

use super::StorageResult;
use crate::device::DeviceKey;
use crate::types::{ClientId, ScopeSet, Subject};

/// A device authorization as stored, under the hash of its device code.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceRecord {
    /// The client the device code was issued to.
    pub client_id: ClientId,
    /// The scope the device asked for (already checked against the client's).
    pub scope: ScopeSet,
    /// When the device code was issued.
    pub issued_at: u64,
    /// When the device code and its user code expire.
    pub expires_at: u64,
    /// The polling interval in seconds, raised by `slow_down`.
    pub interval: u64,
    /// When the device last polled; 0 before its first poll.
    pub last_poll: u64,
    /// What the user decided, and whether the tokens were issued.
    pub status: DeviceStatus,
}

impl DeviceRecord {
    /// How long a store keeps the record (and its user-code key):
    /// [`DEVICE_EXPIRED_HOLD`](crate::device::DEVICE_EXPIRED_HOLD) seconds
    /// past its expiry.
    pub fn keep_until(&self) -> u64 {
        self.expires_at.saturating_add(crate::device::DEVICE_EXPIRED_HOLD)
    }

    /// The rule of [`DeviceStore::decide_device`]: a live, undecided record
    /// takes `decision`; anything else is left as it is.
    pub fn decide(&mut self, decision: &DeviceDecision, now: u64) -> DecideOutcome {
        if self.expires_at <= now {
            return DecideOutcome::Unknown;
        }
        if self.status != DeviceStatus::Pending {
            return DecideOutcome::AlreadyDecided;
        }
        self.status = match decision {
            DeviceDecision::Approve(approval) => DeviceStatus::Approved(approval.clone()),
            DeviceDecision::Deny => DeviceStatus::Denied,
        };
        DecideOutcome::Decided
    }
}

/// Where a device authorization stands.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// The user approved; the next poll takes the approval and gets tokens.
    Approved(DeviceApproval),
    /// The user denied.
    Denied,
    /// A poll took the approval: the tokens were issued once.
    Issued,
}

/// What the user approved.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceApproval {
    /// The approving user.
    pub subject: Subject,
    /// The scope granted, within the record's.
    pub scope: ScopeSet,
    /// When the user authenticated.
    pub auth_time: u64,
}

/// The user's decision ([`DeviceStore::decide_device`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceDecision {
    /// Approve, for this user and scope.
    Approve(DeviceApproval),
    /// Deny.
    Deny,
}

/// Outcome of [`DeviceStore::decide_device`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecideOutcome {
    /// The decision is recorded.
    Decided,
    /// The record was decided before; nothing changed.
    AlreadyDecided,
    /// No such record, or it expired.
    Unknown,
}

/// A token request of the device code grant, as the store checks it in one
/// atomic step ([`DeviceStore::poll_device`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePoll {
    /// The authenticated client: the device code must have been issued to it.
    pub client_id: ClientId,
    /// The time of the request.
    pub now: u64,
}

/// Outcome of [`DeviceStore::poll_device`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// No such device code.
    Unknown,
    /// The device code was issued to another client; nothing changed.
    OtherClient,
    /// The device code has expired; nothing changed.
    Expired,
    /// Polled sooner than the interval allows: the interval is now this
    /// many seconds (raised by [`SLOW_DOWN_STEP`](crate::device::SLOW_DOWN_STEP)).
    SlowDown(u64),
    /// The user has not decided yet.
    Pending,
    /// The user denied.
    Denied,
    /// The user approved, and this poll took the approval: issue the tokens.
    /// Every later poll gets [`PollOutcome::Issued`].
    Approved(DeviceRecord, DeviceApproval),
    /// The tokens were issued to an earlier poll.
    Issued,
}

impl DevicePoll {
    /// The rule of [`DeviceStore::poll_device`], applied to the stored
    /// `record`: the client, the expiry, the polling rate (a poll sooner
    /// than `interval` seconds after the last one raises the interval by
    /// [`SLOW_DOWN_STEP`](crate::device::SLOW_DOWN_STEP)), then the status,
    /// taking an approval. Every poll that passes the client and expiry
    /// checks becomes the last poll.
    pub fn apply(&self, record: &mut DeviceRecord) -> PollOutcome {
        if record.client_id != self.client_id {
            return PollOutcome::OtherClient;
        }
        if record.expires_at <= self.now {
            return PollOutcome::Expired;
        }
        let too_soon = record.last_poll > 0 && self.now < record.last_poll.saturating_add(record.interval);
        record.last_poll = self.now;
        if too_soon {
            record.interval = record.interval.saturating_add(crate::device::SLOW_DOWN_STEP);
            return PollOutcome::SlowDown(record.interval);
        }
        match std::mem::replace(&mut record.status, DeviceStatus::Issued) {
            DeviceStatus::Approved(approval) => PollOutcome::Approved(record.clone(), approval),
            DeviceStatus::Issued => PollOutcome::Issued,
            other => {
                let outcome = if other == DeviceStatus::Denied { PollOutcome::Denied } else { PollOutcome::Pending };
                record.status = other;
                outcome
            }
        }
    }
}

/// Device authorizations (RFC 8628). Each call is atomic; a record and its
/// user-code key share their [`DeviceKey::shard`], so a networked store keeps
/// them together (one hash slot on Redis Cluster) and every call touches
/// that one place.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Stores a new device authorization: `record` under `device`, and
    /// `user` pointing at it, both until [`DeviceRecord::keep_until`].
    /// Returns false, storing nothing, when a record still holds `user`
    /// (the caller draws another user code).
    async fn put_device(&self, device: &DeviceKey, user: &DeviceKey, record: &DeviceRecord) -> StorageResult<bool>;

    /// The device authorization whose user-code key is `user`: the key of
    /// its record, and the record.
    async fn find_device(&self, user: &DeviceKey) -> StorageResult<Option<(DeviceKey, DeviceRecord)>>;

    /// Records the user's decision, once: [`DeviceRecord::decide`] on the
    /// record under `device`, atomically.
    async fn decide_device(
        &self,
        device: &DeviceKey,
        decision: &DeviceDecision,
        now: u64,
    ) -> StorageResult<DecideOutcome>;

    /// A token request's store work as one atomic step: [`DevicePoll::apply`]
    /// on the record under `device` (client, expiry, rate check and interval
    /// update, and taking an approval), storing what it changed. Of
    /// concurrent polls after an approval, exactly one gets
    /// [`PollOutcome::Approved`].
    async fn poll_device(&self, device: &DeviceKey, poll: &DevicePoll) -> StorageResult<PollOutcome>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: DeviceStatus, last_poll: u64) -> DeviceRecord {
        DeviceRecord {
            client_id: "c".into(),
            scope: ScopeSet::empty(),
            issued_at: 100,
            expires_at: 700,
            interval: 5,
            last_poll,
            status,
        }
    }

    fn approval() -> DeviceApproval {
        DeviceApproval { subject: "s".into(), scope: ScopeSet::empty(), auth_time: 150 }
    }

    #[test]
    fn poll_rules() {
        let poll = |client: &str, now| DevicePoll { client_id: client.into(), now };
        let approved = DeviceStatus::Approved(approval());
        // (label, record, poll, outcome, interval after, last poll after, status after)
        let rows = [
            ("other client", record(DeviceStatus::Pending, 0), poll("d", 200), PollOutcome::OtherClient, 5, 0, "p"),
            ("expired", record(DeviceStatus::Pending, 0), poll("c", 700), PollOutcome::Expired, 5, 0, "p"),
            ("first poll", record(DeviceStatus::Pending, 0), poll("c", 200), PollOutcome::Pending, 5, 200, "p"),
            ("on time", record(DeviceStatus::Pending, 195), poll("c", 200), PollOutcome::Pending, 5, 200, "p"),
            ("too soon", record(DeviceStatus::Pending, 196), poll("c", 200), PollOutcome::SlowDown(10), 10, 200, "p"),
            (
                "too soon, approved",
                record(approved.clone(), 199),
                poll("c", 200),
                PollOutcome::SlowDown(10),
                10,
                200,
                "a",
            ),
            ("denied", record(DeviceStatus::Denied, 0), poll("c", 200), PollOutcome::Denied, 5, 200, "d"),
            ("issued", record(DeviceStatus::Issued, 0), poll("c", 200), PollOutcome::Issued, 5, 200, "x"),
        ];
        for (label, mut r, p, outcome, interval, last, status) in rows {
            assert_eq!(p.apply(&mut r), outcome, "{label}");
            assert_eq!((r.interval, r.last_poll), (interval, last), "{label}");
            let got = match r.status {
                DeviceStatus::Pending => "p",
                DeviceStatus::Approved(_) => "a",
                DeviceStatus::Denied => "d",
                DeviceStatus::Issued => "x",
            };
            assert_eq!(got, status, "{label}");
        }
        let mut r = record(approved, 0);
        let PollOutcome::Approved(taken, a) = poll("c", 200).apply(&mut r) else { panic!("approval taken") };
        assert_eq!((taken.status, a), (DeviceStatus::Issued, approval()));
        assert_eq!(poll("c", 205).apply(&mut r), PollOutcome::Issued, "taken once");
    }

    #[test]
    fn decide_rules() {
        let approve = DeviceDecision::Approve(approval());
        let mut r = record(DeviceStatus::Pending, 0);
        assert_eq!(r.clone().decide(&approve, 700), DecideOutcome::Unknown, "expired");
        assert_eq!(r.decide(&approve, 200), DecideOutcome::Decided);
        assert_eq!(r.status, DeviceStatus::Approved(approval()));
        assert_eq!(r.decide(&DeviceDecision::Deny, 201), DecideOutcome::AlreadyDecided);
        assert_eq!(r.status, DeviceStatus::Approved(approval()), "decided once");
        let mut r = record(DeviceStatus::Pending, 0);
        assert_eq!(r.decide(&DeviceDecision::Deny, 200), DecideOutcome::Decided);
        assert_eq!(r.decide(&approve, 201), DecideOutcome::AlreadyDecided);
        assert_eq!(r.status, DeviceStatus::Denied);
    }
}
