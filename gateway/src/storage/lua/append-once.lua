-- Idempotent publish in one round trip: if the idempotency key is set, its
-- value is the id published first; otherwise XADD (creating and registering a
-- missing stream above the floor, as append-batch.lua does) and remember
-- the id for the window. Returns {id, 1 if duplicate}, or false when the
-- floor is needed.
-- KEYS[1] stream, KEYS[2] idempotency key, KEYS[3] subject registry; ARGV:
-- floor, maxlen, windowMs, body, publishedAt, expiresAt, subject. Field names
-- are those of stream-entry.ts.
local prior = redis.call('GET', KEYS[2])
if prior then return {prior, 1} end
local id = '0-*'
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[1] == '' then return false end
  id = '0-' .. (tonumber(ARGV[1]) + 1)
  redis.call('SADD', KEYS[3], ARGV[7])
end
local assigned = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id, 'b', ARGV[4], 't', ARGV[5], 'x', ARGV[6])
redis.call('SET', KEYS[2], assigned, 'PX', ARGV[3])
return {assigned, 0}
