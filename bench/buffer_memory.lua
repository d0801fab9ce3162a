-- scripts/bench: what the buffered events and the dedup sets of one run cost in Redis memory.
-- Walks every buffer stream and dedup set under the prefix (bounded by ARGV[2] keys per kind) and
-- returns, as strings:
--   {streams, stream_bytes, buf_events, buf_bytes, entries, dedup_sets, dedup_bytes, dedup_members}
-- stream_bytes / dedup_bytes are MEMORY USAGE … SAMPLES 0 (exact: every node is counted);
-- buf_events / buf_bytes come from each stream's meta hash; entries = XLEN (one entry per chunk,
-- whose events are joined by '\n', so JSON bytes = buf_bytes - (buf_events - entries)).
-- ARGV: 1 key prefix (e.g. "ees"), 2 most keys of each kind to look at
local prefix, limit = ARGV[1], tonumber(ARGV[2])
local function each(pattern, fn)
  local cursor, seen = '0', 0
  repeat
    local r = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = r[1]
    for _, k in ipairs(r[2]) do
      if seen < limit then fn(k) end
      seen = seen + 1
    end
  until cursor == '0' or seen >= limit
end
local streams, sbytes, events, bytes, entries = 0, 0, 0, 0, 0
each(prefix .. ':s:*:buf', function(k)
  streams = streams + 1
  sbytes = sbytes + redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')
  entries = entries + redis.call('XLEN', k)
  local meta = string.sub(k, 1, #k - 3) .. 'meta'
  local m = redis.call('HMGET', meta, 'buf_events', 'buf_bytes')
  events = events + (tonumber(m[1]) or 0)
  bytes = bytes + (tonumber(m[2]) or 0)
end)
local sets, dbytes, members = 0, 0, 0
each(prefix .. ':s:*:dd:*', function(k)
  sets = sets + 1
  dbytes = dbytes + redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')
  members = members + redis.call('SCARD', k)
end)
return {tostring(streams), tostring(sbytes), tostring(events), tostring(bytes), tostring(entries),
        tostring(sets), tostring(dbytes), tostring(members)}
