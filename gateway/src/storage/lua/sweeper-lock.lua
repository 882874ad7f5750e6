#!lua flags=allow-oom
-- Takes or renews the sweeper lock: 1 when this holder (ARGV[1]) has it for
-- the next ARGV[2] ms, 0 when another holder does. allow-oom: the sweep must
-- run when Redis refuses writes, since it is what frees memory.
-- KEYS[1] lock; ARGV: holder token, ttl ms.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
