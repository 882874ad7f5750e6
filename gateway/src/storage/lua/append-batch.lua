-- Appends a batch to one stream atomically, with consecutive ids. A missing
-- stream is created above the floor (the larger of `ARGV[1]` and its
-- watermark), registered and scheduled, within MAX_SUBJECTS, as in
-- create-stream.lua; when the floor is '' (not yet looked up) the script
-- returns false and the caller retries with it.
-- KEYS[1] stream, KEYS[2] subject registry, KEYS[3] sweep schedule, KEYS[4]
-- watermarks; ARGV: floor, maxlen, publishedAt, subject, maxSubjects,
-- releaseAt, watermark slot, fingerprint, then body, expiresAt pairs. Field
-- names are those of stream-entry.ts.
local exists = redis.call('EXISTS', KEYS[1]) == 1
local first = '0-*'
if not exists then
  if ARGV[1] == '' then return false end
  if redis.call('SISMEMBER', KEYS[2], ARGV[4]) == 0 then
    local count = redis.call('SCARD', KEYS[2])
    if count >= tonumber(ARGV[5]) then return redis.error_reply('BROKER_SUBJECT_LIMIT ' .. count) end
  end
  local offset = tonumber(ARGV[7]) * 96
  local slot = redis.call('BITFIELD_RO', KEYS[4], 'GET', 'u32', offset, 'GET', 'i64', offset + 32)
  local watermark = 0
  if slot[1] == tonumber(ARGV[8]) or slot[1] == 4294967295 then watermark = slot[2] end
  first = '0-' .. (math.max(tonumber(ARGV[1]), watermark) + 1)
  redis.call('SADD', KEYS[2], ARGV[4])
  redis.call('ZADD', KEYS[3], 'NX', ARGV[6], ARGV[4])
end
local ids = {}
for i = 9, #ARGV, 2 do
  local id = '0-*'
  if i == 9 then id = first end
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id, 'b', ARGV[i], 't', ARGV[3], 'x', ARGV[i + 1])
end
return ids
