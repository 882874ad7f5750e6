-- Several entries of one stream by id, in argument order, each compacted to
-- {body, publishedAt, expiresAt} (fields named as in stream-entry.ts), or
-- false (nil) when that id is not stored. The compact reply is what makes
-- batched Fetch cheap: ioredis parses three values per entry instead of the
-- id, the field names and the values.
-- KEYS[1] stream; ARGV: entry ids.
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
