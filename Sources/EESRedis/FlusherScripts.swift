/// Lua for flusher leadership and the fenced flush protocol (docs/architecture.md, "Flusher").
/// A lease's value is `<node>:<epoch>`; the epoch comes from INCR, so every acquisition has a
/// fresh token and a stale leader's token never matches again.
enum FlusherScripts {
    /// KEYS: lease, epoch. ARGV: node, ttl ms. Returns the new epoch, or 0 when the lease is held.
    static let acquire = """
    if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
    local e = redis.call('INCR', KEYS[2])
    redis.call('SET', KEYS[1], ARGV[1] .. ':' .. e, 'PX', ARGV[2])
    return e
    """

    /// KEYS: lease. ARGV: token, ttl ms. 1 = renewed, 0 = not ours any more.
    static let renew = """
    if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
    """

    /// KEYS: lease. ARGV: token. Deletes the lease only if it is still ours.
    static let release = """
    if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
    return redis.call('DEL', KEYS[1])
    """

    /// KEYS: lease, meta. ARGV: token, range "start-end".
    /// Returns {-1} when fenced off; {0, pending} when a flush was already pending (it must be
    /// re-flushed exactly); {1, range} when the range is now pending.
    static let begin = """
    if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-1, ''} end
    local p = redis.call('HGET', KEYS[2], 'pending')
    if p then return {0, p} end
    redis.call('HSET', KEYS[2], 'pending', ARGV[2])
    return {1, ARGV[2]}
    """

    /// KEYS: lease, meta, segment index, buffer, dirty set, notifications.
    /// ARGV: 1 token, 2 range, 3 segment key, 4 start, 5 end, 6 events, 7 bytes, 8 stream key,
    ///       9 notification MAXLEN, 10 newest ts_ingest_ms in the segment.
    /// Returns 1 committed, -1 fenced off, -2 no such pending range (already committed).
    static let commit = """
    if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
    if redis.call('HGET', KEYS[2], 'pending') ~= ARGV[2] then return -2 end
    redis.call('HSET', KEYS[2], 'flushed_seq', ARGV[5])
    redis.call('HDEL', KEYS[2], 'pending')
    redis.call('HINCRBY', KEYS[2], 'buf_events', -tonumber(ARGV[6]))
    redis.call('HINCRBY', KEYS[2], 'buf_bytes', -tonumber(ARGV[7]))
    redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
    redis.call('XTRIM', KEYS[4], 'MINID', tostring(tonumber(ARGV[5]) + 1))
    local nxt = redis.call('XRANGE', KEYS[4], '-', '+', 'COUNT', 1)
    if #nxt == 0 then
      redis.call('ZREM', KEYS[5], ARGV[8])
    else
      local f = nxt[1][2]
      for i = 1, #f, 2 do
        if f[i] == 'ts' then redis.call('ZADD', KEYS[5], f[i + 1], ARGV[8]) end
      end
    end
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[9], '*', 'stream', ARGV[8], 'key', ARGV[3],
               'start', ARGV[4], 'end', ARGV[5], 'count', ARGV[6], 'ts', ARGV[10])
    return 1
    """
}
