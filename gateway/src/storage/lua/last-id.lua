-- The last id ever assigned on a stream (its last-generated-id, which
-- survives trimming), or 0-0 when the stream does not exist. Run in Redis so
-- XINFO's first and last entries (whole bodies) never cross the network.
if redis.call('EXISTS', KEYS[1]) == 0 then return '0-0' end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return info[i + 1] end
end
return '0-0'
