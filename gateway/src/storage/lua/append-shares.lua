-- Appends several subjects' shares of a PublishBatch in one atomic step (all
-- or none; used when there is no archive, so a missing stream's floor is its
-- watermark alone). Each share gets consecutive ids; a missing stream is
-- created above its watermark, registered and scheduled as in
-- create-stream.lua. MAX_SUBJECTS is checked for all the new subjects before
-- anything is written (error `BROKER_SUBJECT_LIMIT <count>`).
-- KEYS[1] subject registry, KEYS[2] sweep schedule, KEYS[3] watermarks,
-- KEYS[4..] the shares' streams, in order; ARGV: maxlen, publishedAt,
-- maxSubjects, then per share: subject, message count, releaseAt, watermark
-- slot, fingerprint, then that many body, expiresAt pairs. Field names are
-- those of stream-entry.ts. Returns one array of ids per share.
local shares = {}
local pos = 4
local missing = 0
for s = 4, #KEYS do
  local share = { key = KEYS[s], subject = ARGV[pos], count = tonumber(ARGV[pos + 1]), releaseAt = ARGV[pos + 2],
    slot = tonumber(ARGV[pos + 3]), fingerprint = tonumber(ARGV[pos + 4]), first = pos + 5 }
  share.exists = redis.call('EXISTS', share.key) == 1
  if not share.exists and redis.call('SISMEMBER', KEYS[1], share.subject) == 0 then missing = missing + 1 end
  shares[#shares + 1] = share
  pos = pos + 5 + 2 * share.count
end
if missing > 0 then
  local count = redis.call('SCARD', KEYS[1])
  if count + missing > tonumber(ARGV[3]) then return redis.error_reply('BROKER_SUBJECT_LIMIT ' .. count) end
end
local out = {}
for s, share in ipairs(shares) do
  local first = '0-*'
  if not share.exists then
    local offset = share.slot * 96
    local slot = redis.call('BITFIELD_RO', KEYS[3], 'GET', 'u32', offset, 'GET', 'i64', offset + 32)
    local watermark = 0
    if slot[1] == share.fingerprint or slot[1] == 4294967295 then watermark = slot[2] end
    first = '0-' .. (watermark + 1)
    redis.call('SADD', KEYS[1], share.subject)
    redis.call('ZADD', KEYS[2], 'NX', share.releaseAt, share.subject)
  end
  local ids = {}
  for i = 0, share.count - 1 do
    local id = '0-*'
    if i == 0 then id = first end
    local at = share.first + 2 * i
    ids[#ids + 1] = redis.call('XADD', share.key, 'MAXLEN', '~', ARGV[1], id, 'b', ARGV[at], 't', ARGV[2], 'x', ARGV[at + 1])
  end
  out[s] = ids
end
return out
