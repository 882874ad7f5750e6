#!lua flags=allow-oom
-- One step of the sweep for one subject (engines/redis/redis-sweeper.ts).
-- Walks the stream from its oldest entry while entries are releasable:
-- expired (x <= now), or fire-and-forget (x = 0) published more than the
-- catch-up time ago. If every entry is releasable, the stream is deleted and
-- unregistered, and its last id goes to the watermark slot (so a later
-- publish continues above it); otherwise the releasable prefix is trimmed
-- (XTRIM MINID) and the subject rescheduled at the first kept entry's release
-- time. Atomic, so a publish is either seen here (and keeps the stream) or
-- comes after the delete (and creates the stream above the watermark).
-- allow-oom: the sweep is what frees memory when Redis refuses writes.
-- KEYS[1] stream, KEYS[2] sweep schedule, KEYS[3] subject registry, KEYS[4]
-- watermarks; ARGV: now, catchUpMs, subject, watermark slot, fingerprint,
-- most entries to look at, the table's size in bytes (allocated whole at its
-- first write, so its memory is a fixed cost). Returns {1 if deleted, entries
-- trimmed}.
local now = tonumber(ARGV[1])
local catchUp = tonumber(ARGV[2])
local maxScan = tonumber(ARGV[6])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('SREM', KEYS[3], ARGV[3])
  return {0, 0}
end
local released = nil
local nextAt = nil
local atEnd = false
local scanned = 0
local from = '-'
while not nextAt and not atEnd and scanned < maxScan do
  local entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 128)
  for _, entry in ipairs(entries) do
    local f = entry[2]
    local t, x = 0, 0
    for j = 1, #f, 2 do
      if f[j] == 't' then t = tonumber(f[j + 1]) elseif f[j] == 'x' then x = tonumber(f[j + 1]) end
    end
    local at = x
    if x == 0 then at = t + catchUp end
    if at > now then
      nextAt = at
      break
    end
    released = entry[1]
    scanned = scanned + 1
  end
  if #entries < 128 then atEnd = true else from = '(' .. entries[#entries][1] end
end
if not nextAt and atEnd then
  local last = 0
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = tonumber(string.match(info[i + 1], '-(%d+)$')) end
  end
  if redis.call('STRLEN', KEYS[4]) < tonumber(ARGV[7]) then redis.call('SETRANGE', KEYS[4], tonumber(ARGV[7]) - 1, '\0') end
  local offset = tonumber(ARGV[4]) * 96
  local fingerprint = tonumber(ARGV[5])
  local slot = redis.call('BITFIELD', KEYS[4], 'GET', 'u32', offset, 'GET', 'i64', offset + 32)
  if slot[1] ~= 0 and slot[1] ~= fingerprint then fingerprint = 4294967295 end
  redis.call('BITFIELD', KEYS[4], 'SET', 'u32', offset, fingerprint, 'SET', 'i64', offset + 32, math.max(slot[2], last))
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('SREM', KEYS[3], ARGV[3])
  return {1, 0}
end
local trimmed = 0
if released then
  trimmed = redis.call('XTRIM', KEYS[1], 'MINID', '0-' .. (tonumber(string.match(released, '-(%d+)$')) + 1))
end
-- Not done (scan bound reached): come back at once; else when the first kept entry is releasable.
redis.call('ZADD', KEYS[2], nextAt or now, ARGV[3])
return {0, trimmed}
