-- The first id still stored on a stream and its last-generated-id, or 0-0 for
-- both when the stream does not exist (first is 0-0 too when it is empty).
-- Ids are assigned contiguously and trimmed only from the oldest end, so every
-- id below `first` is gone from Redis. XINFO runs in Redis, as above.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'0-0', '0-0'} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local first, last = '0-0', '0-0'
for i = 1, #info, 2 do
  if info[i] == 'first-entry' and info[i + 1] then first = info[i + 1][1] end
  if info[i] == 'last-generated-id' then last = info[i + 1] end
end
return {first, last}
