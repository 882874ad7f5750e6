-- Creates a subject's stream with its first message, whose id continues from
-- the highest id ever used on the subject: `ARGV[1]` (e.g. from the archive)
-- or the watermark its deleted stream left (KEYS[4], see redis-keys.ts), so
-- ids are never reused; registers the subject in the registry (a set the
-- archiver reads) and in the sweep's schedule, in the same atomic step. A new
-- subject beyond MAX_SUBJECTS (`ARGV[4]`, counted by the registry) is refused
-- with the error `BROKER_SUBJECT_LIMIT <count>`. If another gateway created
-- the stream meanwhile, this is a plain XADD.
-- KEYS[1] stream, KEYS[2] subject registry, KEYS[3] sweep schedule, KEYS[4]
-- watermarks; ARGV: floor, maxlen, subject, maxSubjects, releaseAt (when the
-- first message stops being needed), watermark slot, fingerprint, then
-- field/value pairs.
local id = '0-*'
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 0 then
    local count = redis.call('SCARD', KEYS[2])
    if count >= tonumber(ARGV[4]) then return redis.error_reply('BROKER_SUBJECT_LIMIT ' .. count) end
  end
  -- The watermark slot (same reading as in append-batch.lua and append-once.lua).
  local offset = tonumber(ARGV[6]) * 96
  local slot = redis.call('BITFIELD_RO', KEYS[4], 'GET', 'u32', offset, 'GET', 'i64', offset + 32)
  local watermark = 0
  if slot[1] == tonumber(ARGV[7]) or slot[1] == 4294967295 then watermark = slot[2] end
  id = '0-' .. (math.max(tonumber(ARGV[1]), watermark) + 1)
  redis.call('SADD', KEYS[2], ARGV[3])
  redis.call('ZADD', KEYS[3], 'NX', ARGV[5], ARGV[3])
end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id, unpack(ARGV, 8))
