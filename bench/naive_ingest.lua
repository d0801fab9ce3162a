-- Ceiling (a): the NAIVE ingest design, for comparison with the project's script
-- (Sources/EESRedis/IngestScript.swift). Per call, one stream and a batch of events:
-- dedup by raw 36-char event ids (SMISMEMBER, then SADD of the new ones), INCRBY for the seqs,
-- then ONE XADD PER EVENT, plus the same bookkeeping the real script does (bytes, dirty set).
-- KEYS: 1 stream, 2 seq, 3 dedup set, 4 bytes hash, 5 dirty zset
-- ARGV: 1 now_ms, then pairs (event_id, event json)
local n = (#ARGV - 1) / 2
local ids = {}
for i = 1, n do ids[i] = ARGV[2 * i] end
local seen = redis.call('SMISMEMBER', KEYS[3], unpack(ids))
local keep, fresh, inb = {}, {}, {}
for i = 1, n do
  local id = ids[i]
  if seen[i] == 0 and not inb[id] then
    inb[id] = true
    keep[#keep + 1] = i
    fresh[#fresh + 1] = id
  end
end
if #keep == 0 then return {0, 0} end
redis.call('SADD', KEYS[3], unpack(fresh))
local last = redis.call('INCRBY', KEYS[2], #keep)
local seq = last - #keep
local bytes = 0
for _, i in ipairs(keep) do
  seq = seq + 1
  local v = ARGV[2 * i + 1]
  bytes = bytes + #v
  redis.call('XADD', KEYS[1], seq .. '-0', 'e', v)
end
redis.call('HINCRBY', KEYS[4], KEYS[1], bytes)
redis.call('ZADD', KEYS[5], 'NX', ARGV[1], KEYS[1])
return {#keep, last}
