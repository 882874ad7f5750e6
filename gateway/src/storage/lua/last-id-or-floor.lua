-- The last id ever assigned on a subject: its stream's last-generated-id
-- (which survives trimming) or, when the stream is gone (deleted by the
-- sweep), the watermark it left; 0-0 when neither exists.
-- Read-only (BITFIELD_RO), so it answers while Redis is at maxmemory.
-- KEYS[1] stream, KEYS[2] watermarks; ARGV: watermark slot, fingerprint.
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return info[i + 1] end
  end
end
local offset = tonumber(ARGV[1]) * 96
local slot = redis.call('BITFIELD_RO', KEYS[2], 'GET', 'u32', offset, 'GET', 'i64', offset + 32)
if slot[1] == tonumber(ARGV[2]) or slot[1] == 4294967295 then return '0-' .. slot[2] end
return '0-0'
