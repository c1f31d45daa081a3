//! The Lua scripts. Each runs atomically in Redis, which is what makes the
//! engine's guarantees hold: an offset, its history entry and its fan-out
//! `PUBLISH` happen in one step, so publish order is offset order; a
//! presence change and its version bump happen in one step.

use std::sync::LazyLock;

use redis::Script;

/// Opens the room's stream if needed and returns `{epoch, head}`.
///
/// KEYS: meta, log. ARGV: fresh epoch, meta ttl (s).
pub(crate) static HEAD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
  redis.call('DEL', KEYS[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
local head = redis.call('HGET', KEYS[1], 'head') or '0'
return {epoch, head}
",
    )
});

/// Trims history entries older than `max_age_ms` (entry ids are
/// `offset-millis`). Shared by the scripts below.
const TRIM_AGE: &str = r"
local function trim_age(log, now, max_age)
  while true do
    local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)
    if #first == 0 then return end
    local ms = tonumber(string.match(first[1][1], '-(%d+)$'))
    if now - ms > max_age then
      redis.call('XDEL', log, first[1][1])
    else
      return
    end
  end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
";

/// Assigns the next offset, appends to history, trims it and publishes the
/// event, all at once. Returns `{epoch, offset}`.
///
/// KEYS: meta, log. ARGV: fresh epoch, channel, json head, json tail,
/// role byte, max_len, max_age (ms), meta ttl (s).
pub(crate) static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r#"{TRIM_AGE}
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
  redis.call('DEL', KEYS[2])
end
local off = redis.call('HINCRBY', KEYS[1], 'head', 1)
local now = now_ms()
local json = ARGV[3] .. '"epoch":"' .. epoch .. '","offset":' .. off .. ',' .. ARGV[4]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[6], string.format('%d-%d', off, now), 'f', json, 'r', ARGV[5])
trim_age(KEYS[2], now, tonumber(ARGV[7]))
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('PUBLISH', ARGV[2], ARGV[5] .. json)
return {{epoch, off}}
"#
    ))
});

/// Reads what a replay needs: `{epoch, head, first offset kept, json1,
/// role1, json2, role2, ...}` with the events after `since` (only when the
/// epoch matches and history reaches back).
///
/// KEYS: meta, log. ARGV: fresh epoch, since epoch, since offset, max_age
/// (ms), meta ttl (s).
pub(crate) static REPLAY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{TRIM_AGE}
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
  redis.call('DEL', KEYS[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
trim_age(KEYS[2], now_ms(), tonumber(ARGV[4]))
local head = tonumber(redis.call('HGET', KEYS[1], 'head') or '0')
local first = head + 1
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if #oldest > 0 then first = tonumber(string.match(oldest[1][1], '^(%d+)-')) end
local out = {{epoch, tostring(head), tostring(first)}}
local since = tonumber(ARGV[3])
if epoch == ARGV[2] and since <= head and since + 1 >= first then
  local entries = redis.call('XRANGE', KEYS[2], string.format('%d-0', since + 1), '+')
  for _, e in ipairs(entries) do
    local f, r
    for i = 1, #e[2], 2 do
      if e[2][i] == 'f' then f = e[2][i + 1] elseif e[2][i] == 'r' then r = e[2][i + 1] end
    end
    table.insert(out, f)
    table.insert(out, r)
  end
end
return out
"
    ))
});

/// Applies a presence operation and bumps the version. Returns
/// `{connections, status, version}`.
///
/// KEYS: user hash, user conns, node conns, nodes. ARGV: op
/// (`add`|`remove`|`status`|`read`), conn id or status, node member, node
/// tag.
pub(crate) static PRESENCE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local op = ARGV[1]
if op == 'add' then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[3])
  redis.call('SADD', KEYS[4], ARGV[4])
elseif op == 'remove' then
  redis.call('SREM', KEYS[2], ARGV[2])
  redis.call('SREM', KEYS[3], ARGV[3])
elseif op == 'status' then
  redis.call('HSET', KEYS[1], 'status', ARGV[2])
end
local v
if op == 'peek' then
  v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
else
  v = redis.call('HINCRBY', KEYS[1], 'v', 1)
end
local s = redis.call('HGET', KEYS[1], 'status') or 'online'
return {redis.call('SCARD', KEYS[2]), s, v}
",
    )
});

/// Removes a dead node's connections from the registry, if its liveness key
/// is (still) gone, and marks the node as reaped when it removed any.
/// Returns `{user, conn, connections, status, version}` per removed
/// connection, flattened, as strings.
///
/// KEYS: alive, node conns, nodes, reaped mark. ARGV: node tag, presence
/// key prefix, mark TTL (ms).
pub(crate) static REAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {} end
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local user, conn = string.match(m, '^([^:]+):(.+)$')
  if user then
    local h = ARGV[2] .. user
    local c = h .. ':c'
    if redis.call('SREM', c, conn) == 1 then
      local v = redis.call('HINCRBY', h, 'v', 1)
      local s = redis.call('HGET', h, 'status') or 'online'
      for _, x in ipairs({user, conn, tostring(redis.call('SCARD', c)), s, tostring(v)}) do
        table.insert(out, x)
      end
    end
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
if #out > 0 then redis.call('SET', KEYS[4], '1', 'PX', ARGV[3]) end
return out
",
    )
});

/// Opens the control log if needed and returns `{epoch, head}`.
///
/// KEYS: control meta, control log. ARGV: fresh epoch.
pub(crate) static CONTROL_HEAD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{OPEN_CONTROL_LOG}
return {{epoch, redis.call('HGET', KEYS[1], 'head') or '0'}}
"
    ))
});

/// Appends a control message to the log (trimmed to about `max_len`) and
/// publishes it as `epoch offset payload`, at once. Returns the offset.
///
/// KEYS: control meta, control log. ARGV: fresh epoch, channel, payload,
/// max_len.
pub(crate) static CONTROL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{OPEN_CONTROL_LOG}
local offset = redis.call('HINCRBY', KEYS[1], 'head', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], offset .. '-0', 'p', ARGV[3])
redis.call('PUBLISH', ARGV[2], epoch .. ' ' .. offset .. ' ' .. ARGV[3])
return offset
"
    ))
});

/// Reads the control log's epoch, creating it (and emptying the log) if
/// the hash is gone. Shared by the control scripts.
const OPEN_CONTROL_LOG: &str = r"
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'head', 0)
  redis.call('DEL', KEYS[2])
end
";
