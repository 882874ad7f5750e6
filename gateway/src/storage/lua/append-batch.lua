-- Appends a batch to one stream atomically, with consecutive ids. A missing
-- stream is created above the floor `ARGV[1]` and registered (as in
-- create-stream.lua); when the floor is '' (not yet looked up) the script
-- returns false and the caller retries with it.
-- KEYS[1] stream, KEYS[2] subject registry; ARGV: floor, maxlen, publishedAt,
-- subject, then body, expiresAt pairs. Field names are those of stream-entry.ts.
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
