/// The per-stream ingest script: dedup window → high-water check → INCRBY → ONE XADD of the chunk.
/// Atomic (one script), one round trip (pipelined with other streams of the same request).
///
/// KEYS: 1 seq, 2 dedup bucket (current), 3 dedup bucket (previous), 4 buffer stream, 5 meta hash,
///       6 partition dirty set
/// ARGV: 1 now_ms, 2 dedup bucket ttl s, 3 high-water events, 4 high-water bytes, 5 device_id,
///       6 batch_id, 7 stream_key, 8 dedup ids (16 bytes each, concatenated), 9 events joined by \n
/// Returns {status, accepted, duplicates, first_seq, last_seq}; status 0 = stored, 1 = over the
/// high-water mark (nothing stored).
let ingestScriptSource = """
-- unpack() of more than ~8000 values fails ("too many results to unpack"), so ids go to
-- SMISMEMBER and SADD in slices.
local function sliced(cmd, key, list)
  local out = {}
  for i = 1, #list, 1000 do
    local r = redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
    if type(r) == 'table' then for j = 1, #r do out[#out + 1] = r[j] end end
  end
  return out
end
local ids_blob = ARGV[8]
local n = #ids_blob / 16
local ids = {}
for i = 1, n do ids[i] = string.sub(ids_blob, i * 16 - 15, i * 16) end
local cur = sliced('SMISMEMBER', KEYS[2], ids)
local prev = sliced('SMISMEMBER', KEYS[3], ids)
local keep, fresh, seen = {}, {}, {}
for i = 1, n do
  local id = ids[i]
  if cur[i] == 0 and prev[i] == 0 and not seen[id] then
    seen[id] = true
    keep[#keep + 1] = i
    fresh[#fresh + 1] = id
  end
end
local k = #keep
if k == 0 then return {0, 0, n, 0, 0} end
local ev = ARGV[9]
if k < n then
  local lines = {}
  for line in string.gmatch(ev, '[^\\n]+') do lines[#lines + 1] = line end
  local parts = {}
  for j = 1, k do parts[j] = lines[keep[j]] end
  ev = table.concat(parts, '\\n')
end
local meta = redis.call('HMGET', KEYS[5], 'buf_events', 'buf_bytes')
if (tonumber(meta[1]) or 0) + k > tonumber(ARGV[3]) or (tonumber(meta[2]) or 0) + #ev > tonumber(ARGV[4]) then
  return {1, 0, 0, 0, 0}
end
sliced('SADD', KEYS[2], fresh)
redis.call('EXPIRE', KEYS[2], ARGV[2])
local last = redis.call('INCRBY', KEYS[1], k)
local first = last - k + 1
redis.call('XADD', KEYS[4], first .. '-0', 'n', k, 'dev', ARGV[5], 'batch', ARGV[6], 'ts', ARGV[1], 'ev', ev)
redis.call('HINCRBY', KEYS[5], 'buf_events', k)
redis.call('HINCRBY', KEYS[5], 'buf_bytes', #ev)
redis.call('ZADD', KEYS[6], 'NX', ARGV[1], ARGV[7])
return {0, k, n - k, first, last}
"""
