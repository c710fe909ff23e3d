//! Lua scripts: each runs atomically on one key (or keys sharing a hash tag).

use std::sync::LazyLock;

use redis::Script;

/// Consumes a code: returns the live value and leaves a `U<grant id>`
/// tombstone with the same TTL; a tombstone is returned as is.
/// KEYS[1] = code key.
pub(crate) static TAKE_CODE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
if string.sub(v, 1, 1) == 'L' then
  local nl = string.find(v, '\n', 1, true)
  if not nl then return false end
  redis.call('SET', KEYS[1], 'U' .. string.sub(v, 2, nl - 1), 'KEEPTTL')
end
return v
",
    )
});

/// The family helpers of [`REFRESH`]. A retired refresh token leaves a marker
/// (`x<hash>` holding the retired token's expiry, u32 LE; markers written
/// before expiries were kept are empty and live as long as the family):
/// presenting the token again before then is reuse, which deletes the
/// family. `prune` drops expired tokens and markers once the family's hash
/// has doubled since the last pass, if anything can have expired since: field
/// `n` holds the size that triggers the next pass and the soonest expiry the
/// last pass kept (two u32 LE). Tokens of a family are added in order of
/// expiry (same lifetimes, capped by the family's end), so nothing added
/// later expires before that. A family refreshed for months thus holds only
/// what is live, at an amortized constant cost per rotation, and one
/// refreshed many times within its tokens' lifetimes is never scanned.
const FAMILY: &str = r"
local function reused(key, hash, now)
  local marker = redis.call('HGET', key, 'x' .. hash)
  if marker and (marker == '' or struct.unpack('<I4', marker) > now) then
    redis.call('DEL', key)
    return true
  end
  return false
end
local function prune(key, now, meta)
  local limit, soonest = 64, 0
  if meta and #meta == 8 then limit, soonest = struct.unpack('<I4I4', meta) end
  local len = redis.call('HLEN', key)
  if len <= limit then return end
  if now < soonest then
    redis.call('HSET', key, 'n', struct.pack('<I4I4', 2 * len, soonest))
    return
  end
  local all = redis.call('HGETALL', key)
  local dead, live, next_soonest = {}, 0, 4294967295
  for i = 1, #all, 2 do
    local kind, v = string.byte(all[i]), all[i + 1]
    local exp
    if (kind == 97 or kind == 114) and #v >= 5 then
      exp = struct.unpack('<I4', v, 2)
    elseif kind == 120 and #v == 4 then
      exp = struct.unpack('<I4', v)
    end
    if exp and exp <= now then
      dead[#dead + 1] = all[i]
    else
      live = live + 1
      if exp and exp < next_soonest then next_soonest = exp end
    end
  end
  for i = 1, #dead, 1000 do
    redis.call('HDEL', key, unpack(dead, i, math.min(i + 999, #dead)))
  end
  redis.call('HSET', key, 'n', struct.pack('<I4I4', math.max(64, 2 * live), next_soonest))
end
";

/// The refresh grant in one step: look up the presented refresh token, check
/// it, and rotate it; the rules are `RefreshRequest::check` and
/// `RefreshRequest::tokens`. A new record is the old one's bytes (see
/// `codec`) with a new header (flags, expiry, issue time, family expiry) and,
/// for the access token, the requested scope; the rest is never parsed unless
/// a scope is requested. KEYS[1] = grant key; ARGV[1] = old hash (16 bytes);
/// ARGV[2] = now; ARGV[3] = client id as the record holds it (u16 length,
/// bytes); ARGV[4] = '1' when a scope is requested, ARGV[5] = that scope;
/// ARGV[6], ARGV[7] = access field and lifetime; ARGV[8], ARGV[9] = refresh
/// field and lifetime (ARGV[8] empty: no rotation); ARGV[10] = the retry
/// answer of the refresh grace (its end, u32 LE, then the sealed tokens), or
/// empty; ARGV[11] = the request's DPoP key thumbprint as a record holds it
/// (u16 length, bytes), or empty without a proof. A token bound to a key
/// (flag 8) is refused unless ARGV[11] is that key; the new access token is
/// bound to ARGV[11], the new refresh token keeps the old one's binding.
/// The family keeps one retry answer, in field `g`: the retired
/// token's 16-byte hash, then ARGV[10]; a rotation replaces it (or drops
/// it), and a retry of that token before its end takes it
/// (`RetryAnswer::decide`).
/// Returns {1, old record} refreshed, {3, old record} refused, {2, ''} reused
/// (family deleted), {4, end and sealed tokens} a retry, {0, ''} unknown.
pub(crate) static REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{FAMILY}{}",
        r#"
local now = tonumber(ARGV[2])
local got = redis.call('HMGET', KEYS[1], 'r' .. ARGV[1], 'n', 'g')
local old = got[1]
if not old then
  local g = got[3]
  if g and #g >= 20 and string.sub(g, 1, 16) == ARGV[1] and struct.unpack('<I4', g, 17) > now then
    redis.call('HDEL', KEYS[1], 'g')
    return {4, string.sub(g, 17)}
  end
  if reused(KEYS[1], ARGV[1], now) then return {2, ''} end
  return {0, ''}
end
local flags, exp = struct.unpack('<BI4', old)
local at, gexp = 10, exp
if flags % 8 >= 4 then
  gexp = struct.unpack('<I4', old, 10)
  at = 14
end
local c = at
if flags % 4 >= 2 then c = c + 4 end
local key_at, bound = c, flags % 16 >= 8
if bound then c = c + 2 + struct.unpack('<I2', old, c) end
local key_end = c
if exp <= now or string.sub(old, c, c + #ARGV[3] - 1) ~= ARGV[3] then return {3, old} end
if bound and string.sub(old, key_at, key_end - 1) ~= ARGV[11] then return {3, old} end
local tail = string.sub(old, at)
local access_tail = string.sub(old, key_end)
if ARGV[4] == '1' then
  c = c + #ARGV[3]
  if flags % 2 == 1 then c = c + 2 + struct.unpack('<I2', old, c) end
  local have = {}
  for s in string.gmatch(string.sub(old, c), '[^ ]+') do have[s] = true end
  for s in string.gmatch(ARGV[5], '[^ ]+') do
    if not have[s] then return {3, old} end
  end
  access_tail = string.sub(old, key_end, c - 1) .. ARGV[5]
end
access_tail = string.sub(old, at, key_at - 1) .. ARGV[11] .. access_tail
local low = flags % 4
local access_low = low
if ARGV[11] ~= '' then access_low = low + 8 end
if bound then low = low + 8 end
local function head(e, l)
  if e == gexp then return struct.pack('<BI4I4', l, e, now) end
  return struct.pack('<BI4I4I4', l + 4, e, now, gexp)
end
local latest = math.min(now + tonumber(ARGV[7]), gexp)
local access = head(latest, access_low) .. access_tail
if ARGV[8] == '' then
  redis.call('HSET', KEYS[1], ARGV[6], access)
else
  local e = math.min(now + tonumber(ARGV[9]), gexp)
  redis.call('HDEL', KEYS[1], 'r' .. ARGV[1])
  redis.call('HSET', KEYS[1], ARGV[6], access, 'x' .. ARGV[1], struct.pack('<I4', exp), ARGV[8], head(e, low) .. tail)
  if ARGV[10] ~= '' then
    redis.call('HSET', KEYS[1], 'g', ARGV[1] .. ARGV[10])
  elseif got[3] then
    redis.call('HDEL', KEYS[1], 'g')
  end
  if e > latest then latest = e end
end
redis.call('EXPIREAT', KEYS[1], latest, 'GT')
prune(KEYS[1], now, got[2])
return {1, old}
"#
    ))
});

/// Adds an access token to a live family (token exchange,
/// `TokenStore::add_access_token`): refused (0) when the family's key is gone
/// (expired or never created) or holds the revocation tombstone `v`, or
/// when, after pruning as the refresh does, it still has ARGV[5] fields
/// (`MAX_FAMILY_ENTRIES`); otherwise stores the field, extends the family's
/// TTL to the token's expiry when later, and answers 1.
/// KEYS[1] = grant key; ARGV[1] = access field, ARGV[2] = record,
/// ARGV[3] = its expiry, ARGV[4] = now, ARGV[5] = the most fields.
pub(crate) static ADD_ACCESS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{FAMILY}{}",
        r"
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'v') == 1 then return 0 end
prune(KEYS[1], tonumber(ARGV[4]), redis.call('HGET', KEYS[1], 'n'))
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[3], 'GT')
return 1
"
    ))
});

/// Stores a client and indexes its id. KEYS[1] = client key, KEYS[2] = id set;
/// ARGV[1] = JSON, ARGV[2] = id.
pub(crate) static PUT_CLIENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return 1
",
    )
});

/// Deletes a client and its index entry; returns 1 when it existed.
/// KEYS[1] = client key, KEYS[2] = id set; ARGV[1] = id.
pub(crate) static DELETE_CLIENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('SREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])
",
    )
});

/// Stores a user and its subject index. KEYS[1] = user key, KEYS[2] = subject key;
/// ARGV[1] = JSON, ARGV[2] = username.
pub(crate) static PUT_USER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return 1
",
    )
});

/// Counts a failure: increments the counter and, when it has no TTL yet
/// (its first failure), sets the window's; returns `{count, seconds left}`.
/// KEYS[1] = throttle key; ARGV[1] = window in seconds.
pub(crate) static RECORD_FAILURE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
",
    )
});

/// Reads a counter: `{count, seconds left}`, `{0, 0}` when there is none.
/// KEYS[1] = throttle key.
pub(crate) static FAILURES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('GET', KEYS[1])
if not n then return {0, 0} end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(n), ttl}
",
    )
});

/// Creates a device authorization: the user-code key unless one is held
/// (`SET NX`), then the record's hash, both expiring at ARGV[2].
/// KEYS[1] = user-code key, KEYS[2] = device key (same hash tag);
/// ARGV[1] = the device code's hash (hex), ARGV[2] = keep until (Unix
/// seconds), ARGV[3..8] = client id, expiry, interval, last poll, status,
/// the record as JSON. Returns 1 stored, 0 when the user code is held.
pub(crate) static PUT_DEVICE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EXAT', ARGV[2]) then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'c', ARGV[3], 'e', ARGV[4], 'i', ARGV[5], 'l', ARGV[6], 's', ARGV[7], 'r', ARGV[8])
redis.call('EXPIREAT', KEYS[2], ARGV[2])
return 1
",
    )
});

/// Records a user's decision once (`DeviceRecord::decide`). KEYS[1] = device
/// key; ARGV[1] = now, ARGV[2] = `a` (approve) or `d` (deny), ARGV[3] = the
/// approval (JSON) or empty. Returns 1 decided, 2 decided before, 0 unknown
/// or expired.
pub(crate) static DECIDE_DEVICE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'e', 's')
if not v[1] or tonumber(v[1]) <= tonumber(ARGV[1]) then return 0 end
if v[2] ~= 'p' then return 2 end
if ARGV[2] == 'a' then
  redis.call('HSET', KEYS[1], 's', 'a', 'a', ARGV[3])
else
  redis.call('HSET', KEYS[1], 's', 'd')
end
return 1
",
    )
});

/// A device's poll in one step (`DevicePoll::apply`): the client, the
/// expiry, the rate (a poll sooner than the interval after the last one
/// raises the interval by ARGV[3]), then the status, taking an approval.
/// KEYS[1] = device key; ARGV[1] = client id, ARGV[2] = now, ARGV[3] = the
/// slow-down step. Returns {outcome} or {'slow', interval} or
/// {'approved', approval JSON, record JSON, interval}.
pub(crate) static POLL_DEVICE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local v = redis.call('HMGET', KEYS[1], 'c', 'e', 'i', 'l', 's')
if not v[1] then return {'unknown'} end
if v[1] ~= ARGV[1] then return {'other'} end
local now = tonumber(ARGV[2])
if tonumber(v[2]) <= now then return {'expired'} end
local interval, last = tonumber(v[3]), tonumber(v[4])
if last > 0 and now < last + interval then
  interval = interval + tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], 'i', interval, 'l', ARGV[2])
  return {'slow', tostring(interval)}
end
redis.call('HSET', KEYS[1], 'l', ARGV[2])
local s = v[5]
if s == 'a' then
  local got = redis.call('HMGET', KEYS[1], 'a', 'r')
  redis.call('HSET', KEYS[1], 's', 'x')
  redis.call('HDEL', KEYS[1], 'a')
  return {'approved', got[1], got[2], tostring(interval)}
end
if s == 'd' then return {'denied'} end
if s == 'x' then return {'issued'} end
return {'pending'}
",
    )
});
