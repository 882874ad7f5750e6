/**
 * The last id ever assigned on a stream (its last-generated-id, which
 * survives trimming), or 0-0 when the stream does not exist. Run in Redis so
 * XINFO's first and last entries (whole bodies) never cross the network.
 */
export const LAST_ID_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return '0-0' end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return info[i + 1] end
end
return '0-0'
`;

/**
 * The first id still stored on a stream and its last-generated-id, or 0-0 for
 * both when the stream does not exist (first is 0-0 too when it is empty).
 * Ids are assigned contiguously and trimmed only from the oldest end, so every
 * id below `first` is gone from Redis. XINFO runs in Redis, as above.
 */
export const STORED_RANGE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'0-0', '0-0'} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local first, last = '0-0', '0-0'
for i = 1, #info, 2 do
  if info[i] == 'first-entry' and info[i + 1] then first = info[i + 1][1] end
  if info[i] == 'last-generated-id' then last = info[i + 1] end
end
return {first, last}
`;

/**
 * Creates a subject's stream with its first message, whose id continues from
 * `ARGV[1]` (the highest id ever used on the subject, e.g. from the archive),
 * so ids are never reused after Redis lost the stream, and adds the subject to
 * the subject registry (a set the archiver reads; see subject-registry.ts) in
 * the same atomic step. If another gateway created the stream meanwhile, this
 * is a plain XADD (and a no-op SADD).
 * KEYS[1] stream, KEYS[2] subject registry; ARGV: floor, maxlen, subject, then
 * field/value pairs.
 */
export const CREATE_STREAM_SCRIPT = `
local id = '0-*'
if redis.call('EXISTS', KEYS[1]) == 0 then id = '0-' .. (tonumber(ARGV[1]) + 1) end
redis.call('SADD', KEYS[2], ARGV[3])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id, unpack(ARGV, 4))
`;

/**
 * Appends a batch to one stream atomically, with consecutive ids. A missing
 * stream is created above the floor `ARGV[1]` and registered (as in
 * CREATE_STREAM_SCRIPT); when the floor is '' (not yet looked up) the script
 * returns false and the caller retries with it.
 * KEYS[1] stream, KEYS[2] subject registry; ARGV: floor, maxlen, publishedAt,
 * subject, then body, expiresAt pairs. Field names are those of stream-entry.ts.
 */
export const APPEND_BATCH_SCRIPT = `
local exists = redis.call('EXISTS', KEYS[1]) == 1
if not exists then
  if ARGV[1] == '' then return false end
  redis.call('SADD', KEYS[2], ARGV[4])
end
local ids = {}
for i = 5, #ARGV, 2 do
  local id = '0-*'
  if not exists then
    id = '0-' .. (tonumber(ARGV[1]) + 1)
    exists = true
  end
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id, 'b', ARGV[i], 't', ARGV[3], 'x', ARGV[i + 1])
end
return ids
`;

/**
 * Idempotent publish in one round trip: if the idempotency key is set, its
 * value is "<id published first> <request digest>"; otherwise XADD (creating
 * and registering a missing stream above the floor, as APPEND_BATCH_SCRIPT
 * does) and remember the id and digest for the window. Returns {id, 0} when
 * stored, {id, 1} for a retry of the same request, {id, 2} for a different
 * request (another digest) under the same key; or false when the floor is needed.
 * KEYS[1] stream, KEYS[2] idempotency key, KEYS[3] subject registry; ARGV:
 * floor, maxlen, windowMs, body, publishedAt, expiresAt, subject, digest.
 * Field names are those of stream-entry.ts.
 */
export const APPEND_ONCE_SCRIPT = `
local prior = redis.call('GET', KEYS[2])
if prior then
  local space = string.find(prior, ' ', 1, true)
  if not space then return {prior, 1} end
  local same = string.sub(prior, space + 1) == ARGV[8]
  return {string.sub(prior, 1, space - 1), same and 1 or 2}
end
local id = '0-*'
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[1] == '' then return false end
  id = '0-' .. (tonumber(ARGV[1]) + 1)
  redis.call('SADD', KEYS[3], ARGV[7])
end
local assigned = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id, 'b', ARGV[4], 't', ARGV[5], 'x', ARGV[6])
redis.call('SET', KEYS[2], assigned .. ' ' .. ARGV[8], 'PX', ARGV[3])
return {assigned, 0}
`;

/**
 * Several entries of one stream by id, in argument order, each compacted to
 * {body, publishedAt, expiresAt} (fields named as in stream-entry.ts), or
 * false (nil) when that id is not stored. The compact reply is what makes
 * batched Fetch cheap: ioredis parses three values per entry instead of the
 * id, the field names and the values.
 * KEYS[1] stream; ARGV: entry ids.
 */
export const GET_MANY_SCRIPT = `
local out = {}
for i = 1, #ARGV do
  local entry = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])[1]
  if entry then
    local body, t, x = '', '0', '0'
    local f = entry[2]
    for j = 1, #f, 2 do
      if f[j] == 'b' then body = f[j + 1] elseif f[j] == 't' then t = f[j + 1] elseif f[j] == 'x' then x = f[j + 1] end
    end
    out[i] = { body, t, x }
  else
    out[i] = false
  end
end
return out
`;
