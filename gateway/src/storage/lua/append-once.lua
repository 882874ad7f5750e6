-- Idempotent publish in one round trip: if the idempotency key is set, its
-- value is "<id published first> <request digest>"; otherwise XADD (creating,
-- registering and scheduling a missing stream above its floor within
-- MAX_SUBJECTS, as append-batch.lua does) and remember the id and digest for
-- the window. Returns {id, 0} when stored, {id, 1} for a retry of the same
-- request, {id, 2} for a different request (another digest) under the same
-- key; or false when the floor is needed.
-- KEYS[1] stream, KEYS[2] idempotency key, KEYS[3] subject registry, KEYS[4]
-- sweep schedule, KEYS[5] watermarks; ARGV: floor, maxlen, windowMs, body,
-- publishedAt, expiresAt, subject, maxSubjects, releaseAt, watermark slot,
-- fingerprint, request digest. Field names are those of stream-entry.ts.
local prior = redis.call('GET', KEYS[2])
if prior then
  local space = string.find(prior, ' ', 1, true)
  if not space then return {prior, 1} end
  local same = string.sub(prior, space + 1) == ARGV[12]
  return {string.sub(prior, 1, space - 1), same and 1 or 2}
end
local id = '0-*'
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[1] == '' then return false end
  if redis.call('SISMEMBER', KEYS[3], ARGV[7]) == 0 then
    local count = redis.call('SCARD', KEYS[3])
    if count >= tonumber(ARGV[8]) then return redis.error_reply('BROKER_SUBJECT_LIMIT ' .. count) end
  end
  local offset = tonumber(ARGV[10]) * 96
  local slot = redis.call('BITFIELD_RO', KEYS[5], 'GET', 'u32', offset, 'GET', 'i64', offset + 32)
  local watermark = 0
  if slot[1] == tonumber(ARGV[11]) or slot[1] == 4294967295 then watermark = slot[2] end
  id = '0-' .. (math.max(tonumber(ARGV[1]), watermark) + 1)
  redis.call('SADD', KEYS[3], ARGV[7])
  redis.call('ZADD', KEYS[4], 'NX', ARGV[9], ARGV[7])
end
local assigned = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id, 'b', ARGV[4], 't', ARGV[5], 'x', ARGV[6])
redis.call('SET', KEYS[2], assigned .. ' ' .. ARGV[12], 'PX', ARGV[3])
return {assigned, 0}
