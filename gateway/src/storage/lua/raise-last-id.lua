-- Raises a stream's last-generated-id to ARGV[1] when it is below (XSETID),
-- so the next XADD continues above every id given out before Redis lost
-- data. A missing stream is left alone: it is recreated above its floor.
-- Returns 1 when it raised. KEYS[1] stream; ARGV[1] highest known id.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then
    local seq = tonumber(string.match(info[i + 1], '-(%d+)$'))
    if seq < tonumber(ARGV[1]) then
      redis.call('XSETID', KEYS[1], '0-' .. ARGV[1])
      return 1
    end
    return 0
  end
end
return 0
