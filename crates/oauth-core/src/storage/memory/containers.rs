//! The containers [`MemoryStore`](super::MemoryStore) is made of: maps whose
//! entries expire ([`Timed`], with an [`ExpiryIndex`]), and hash maps split
//! into shards ([`Sharded`]) hashed by [`FoldHasher`].

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

/// Keys by expiry time: what to look at when that time has passed.
#[derive(Debug)]
pub(super) struct ExpiryIndex<K>(BTreeMap<u64, Vec<K>>);

impl<K> Default for ExpiryIndex<K> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<K> ExpiryIndex<K> {
    pub(super) fn schedule(&mut self, at: u64, key: K) {
        self.0.entry(at).or_default().push(key);
    }

    /// Takes every key due at or before `now`.
    pub(super) fn due(&mut self, now: u64) -> impl Iterator<Item = K> {
        let later = self.0.split_off(&now.saturating_add(1));
        std::mem::replace(&mut self.0, later).into_values().flatten()
    }
}

/// A map whose entries expire, with its expiry index.
#[derive(Debug)]
pub(super) struct Timed<K, V> {
    map: BTreeMap<K, (V, u64)>,
    expiries: ExpiryIndex<K>,
}

impl<K, V> Default for Timed<K, V> {
    fn default() -> Self {
        Self { map: BTreeMap::new(), expiries: ExpiryIndex::default() }
    }
}

impl<K: Ord + Clone, V> Timed<K, V> {
    pub(super) fn get(&self, key: &K, now: u64) -> Option<&V> {
        self.map.get(key).filter(|(_, exp)| *exp > now).map(|(v, _)| v)
    }

    pub(super) fn get_mut(&mut self, key: &K, now: u64) -> Option<&mut V> {
        self.map.get_mut(key).filter(|(_, exp)| *exp > now).map(|(v, _)| v)
    }

    pub(super) fn insert(&mut self, key: K, value: V, expires_at: u64, now: u64) {
        self.purge(now);
        self.expiries.schedule(expires_at, key.clone());
        self.map.insert(key, (value, expires_at));
    }

    pub(super) fn remove(&mut self, key: &K) -> bool {
        self.map.remove(key).is_some()
    }

    /// Removes and returns the value, if live.
    pub(super) fn take(&mut self, key: &K, now: u64) -> Option<V> {
        match self.map.remove(key) {
            Some((value, exp)) if exp > now => Some(value),
            _ => None,
        }
    }

    /// The number of entries, after removing the expired ones.
    pub(super) fn len_after_purge(&mut self, now: u64) -> usize {
        self.purge(now);
        self.map.len()
    }

    fn purge(&mut self, now: u64) {
        for key in self.expiries.due(now) {
            if self.map.get(&key).is_some_and(|(_, exp)| *exp <= now) {
                self.map.remove(&key);
            }
        }
    }
}

/// Number of shards of a [`Sharded`] map.
const SHARDS: usize = 256;

/// A hash map split into shards by the key's hash. Growing a shard moves only
/// its own entries: one map holding a million tokens would stall every
/// request for tens of milliseconds each time it doubles. Hash maps rather
/// than B-trees: a lookup among a million keys is one or two cache misses,
/// not a walk down eight levels of nodes comparing 32-byte keys. Keys are
/// hashed with [`FoldHasher`], so they must be values this server generated.
#[derive(Debug)]
pub(super) struct Sharded<K, V> {
    hasher: Fold,
    shards: Box<[HashMap<K, V, Fold>]>,
    /// The number of entries, kept on every insert and remove: the store's
    /// bound is checked on every write, without summing the shards.
    len: usize,
}

impl<K, V> Default for Sharded<K, V> {
    fn default() -> Self {
        Self {
            hasher: Fold::default(),
            shards: (0..SHARDS).map(|_| HashMap::with_hasher(Fold::default())).collect(),
            len: 0,
        }
    }
}

impl<K: Hash + Eq, V> Sharded<K, V> {
    fn shard(&self, key: &K) -> usize {
        // Bits 32..40: the shards' maps index by the low bits of the hash and
        // tag slots with its top seven, so the shard number must use neither.
        (self.hasher.hash_one(key) >> 32) as usize % SHARDS
    }

    pub(super) fn get(&self, key: &K) -> Option<&V> {
        self.shards[self.shard(key)].get(key)
    }

    pub(super) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = self.shard(key);
        self.shards[i].get_mut(key)
    }

    pub(super) fn contains_key(&self, key: &K) -> bool {
        self.shards[self.shard(key)].contains_key(key)
    }

    pub(super) fn insert(&mut self, key: K, value: V) {
        let i = self.shard(&key);
        if self.shards[i].insert(key, value).is_none() {
            self.len += 1;
        }
    }

    pub(super) fn remove(&mut self, key: &K) -> Option<V> {
        let i = self.shard(key);
        let removed = self.shards[i].remove(key);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Every entry, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flat_map(HashMap::iter)
    }
}

/// The hasher of the token state's maps. Their keys are values nobody but
/// this server chooses and that are already uniform: SHA-256 digests of
/// 256-bit random tokens, and grant ids of 132 random bits. Folding their
/// words is hash enough, where SipHash would cost several times more on
/// every insert and lookup. (Lookups with made-up keys cannot lengthen probe
/// sequences; only inserted keys shape the table.)
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FoldHasher(u64);

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        for word in bytes.chunks(8) {
            let mut padded = [0u8; 8];
            padded[..word.len()].copy_from_slice(word);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(padded)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FoldHasher`]s: the only hasher of [`Sharded`] maps, whose keys
/// are therefore always server-generated random values.
pub(super) type Fold = BuildHasherDefault<FoldHasher>;

#[cfg(test)]
mod tests {
    use super::super::GrantKey;
    use super::*;
    use crate::types::{GrantId, TokenHash};

    #[test]
    fn random_keys_spread_evenly_over_shards_and_buckets() {
        let mut map: Sharded<TokenHash, u32> = Sharded::default();
        let n = 256 * 200;
        for i in 0..n {
            map.insert(TokenHash::of(&i.to_string()), i);
        }
        assert_eq!(map.len(), n as usize);
        assert_eq!(map.len(), map.shards.iter().map(HashMap::len).sum::<usize>(), "the kept count is the sum");
        // 200 keys expected per shard; a fair split stays well within ±50%.
        for shard in map.shards.iter() {
            assert!((100..300).contains(&shard.len()), "shard of {} keys", shard.len());
        }
        // Every key is found, and a key never inserted is not.
        assert!((0..n).all(|i| map.get(&TokenHash::of(&i.to_string())) == Some(&i)));
        assert!(map.get(&TokenHash::of("absent")).is_none());
        // The seven tag bits hashbrown keeps per slot vary within a shard.
        let tags: std::collections::BTreeSet<u64> =
            map.shards[0].keys().map(|k| map.hasher.hash_one(k) >> 57).collect();
        assert!(tags.len() > 64, "only {} distinct tags", tags.len());
    }

    #[test]
    fn grant_ids_spread_evenly_over_shards() {
        let generator = crate::generate::RandomGenerator;
        let mut map: Sharded<GrantKey, ()> = Sharded::default();
        for _ in 0..256 * 200 {
            let mut id = crate::generate::TokenGenerator::token(&generator);
            id.truncate(22);
            map.insert(GrantKey::new(&GrantId::new(id)), ());
        }
        for shard in map.shards.iter() {
            assert!((100..300).contains(&shard.len()), "shard of {} keys", shard.len());
        }
    }
}
