-- Creates a subject's stream with its first message, whose id continues from
-- `ARGV[1]` (the highest id ever used on the subject, e.g. from the archive),
-- so ids are never reused after Redis lost the stream, and adds the subject to
-- the subject registry (a set the archiver reads; see subject-registry.ts) in
-- the same atomic step. If another gateway created the stream meanwhile, this
-- is a plain XADD (and a no-op SADD).
-- KEYS[1] stream, KEYS[2] subject registry; ARGV: floor, maxlen, subject, then
-- field/value pairs.
local id = '0-*'
if redis.call('EXISTS', KEYS[1]) == 0 then id = '0-' .. (tonumber(ARGV[1]) + 1) end
redis.call('SADD', KEYS[2], ARGV[3])
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id, unpack(ARGV, 4))
