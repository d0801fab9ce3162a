#!/usr/bin/env bash
# Redis stopped under a running ingest node: while it is down, POST /ingest answers 503 with
# Retry-After and /readyz is 503 (/healthz stays 200); once Redis is back on the same port with
# its AOF data, requests succeed again WITHOUT restarting the node, and the seqs continue without
# a gap. Then SIGTERM: the node drains and exits 0 within its drain bound.
set -euo pipefail
source "$(dirname "$0")/ingest-common.bash"

device=dev-outage
drain_timeout_ms=3000
key=$("$EES_BIN" device add --device-id "$device" --redis "$EES_TEST_REDIS_URL" --redis-prefix "$E2E_PREFIX")
[[ $key =~ ^ees_[0-9a-f]{64}$ ]] || fail "device add printed '$key'"

port=$(http_port)
start_ees node serve --roles ingest --listen "127.0.0.1:$port" --redis "$EES_TEST_REDIS_URL" --redis-prefix "$E2E_PREFIX" \
  --retry-after-s 3 --drain-timeout-ms "$drain_timeout_ms"
node_pid=$EES_PID
wait_for 15 curl -fsS "http://127.0.0.1:$port/readyz"

# 1. Redis up: accepted, seqs 1-2.
status=$(post_ingest "$port" "$device" "$key" "$(batch "$device" e1 e2)")
[[ $status == 200 ]] || fail "first batch: $status $(cat "$E2E_DIR/resp.json")"
[[ $(json "$E2E_DIR/resp.json" '["first_seq"]')-$(json "$E2E_DIR/resp.json" '["last_seq"]') == 1-2 ]] ||
  fail "first batch seqs: $(cat "$E2E_DIR/resp.json")"

# 2. Redis down: 503 + Retry-After, /readyz 503, /healthz 200; nothing is queued in the node.
log "stopping redis"
redis_down
redis_ready && fail "redis still answers after stopping it"
for attempt in 1 2 3; do
  status=$(post_ingest "$port" "$device" "$key" "$(batch "$device" e3 e4)")
  [[ $status == 503 ]] || fail "with redis down (attempt $attempt): $status $(cat "$E2E_DIR/resp.json")"
  grep -qi '^retry-after: 3' "$E2E_DIR/resp.headers" || fail "503 without Retry-After: $(cat "$E2E_DIR/resp.headers")"
  [[ $(json "$E2E_DIR/resp.json" '["error"]') == unavailable ]] || fail "503 body: $(cat "$E2E_DIR/resp.json")"
done
[[ $(http_status "http://127.0.0.1:$port/readyz") == 503 ]] || fail "/readyz is not 503 with redis down"
[[ $(http_status "http://127.0.0.1:$port/healthz") == 200 ]] || fail "/healthz is not 200 with redis down"
kill -0 "$node_pid" 2>/dev/null || fail "the node exited while redis was down"

# 3. Redis back (same port, AOF): 200 again within 20 s, same node process.
log "starting redis again"
redis_up
redis_ready || fail "redis did not come back"
deadline=$((SECONDS + 20))
until [[ $(post_ingest "$port" "$device" "$key" "$(batch "$device" e3 e4)") == 200 ]]; do
  ((SECONDS < deadline)) || fail "no 200 within 20 s after redis came back: $(cat "$E2E_DIR/resp.json")"
  sleep 0.2
done
kill -0 "$node_pid" 2>/dev/null || fail "the node is not the same process"
# Nothing was stored while Redis was down, so e3, e4 are new and continue the seqs without a gap.
[[ $(json "$E2E_DIR/resp.json" '["accepted_count"]') == 2 ]] || fail "after recovery: $(cat "$E2E_DIR/resp.json")"
[[ $(json "$E2E_DIR/resp.json" '["first_seq"]')-$(json "$E2E_DIR/resp.json" '["last_seq"]') == 3-4 ]] ||
  fail "seqs after recovery: $(cat "$E2E_DIR/resp.json")"
wait_for 10 curl -fsS "http://127.0.0.1:$port/readyz"
status=$(post_ingest "$port" "$device" "$key" "$(batch "$device" e5)")
[[ $status == 200 && $(json "$E2E_DIR/resp.json" '["first_seq"]') == 5 ]] || fail "after recovery: $status $(cat "$E2E_DIR/resp.json")"

# The data survived the restart: one buffer entry per accepted request, seq 5.
buf="$E2E_PREFIX:s:{$device}:buf"
ids=$(redis_cli xrange "$buf" - + | grep -E '^[0-9]+-0$' | tr '\n' ' ')
[[ $ids == "1-0 3-0 5-0 " ]] || fail "buffer entries: '$ids'"
[[ $(redis_cli get "$E2E_PREFIX:s:{$device}:seq") == 5 ]] || fail "seq: $(redis_cli get "$E2E_PREFIX:s:{$device}:seq")"

# 4. A quiet restart (no request while Redis is down): the node's idle Redis connections are
# dead now, and the first request after Redis is back must not be answered from one of them.
curls=()
for i in 1 2 3 4 5 6 7 8; do
  curl -sS -o /dev/null --max-time 10 -X POST "http://127.0.0.1:$port/ingest" -H 'content-type: application/json' \
    -H "x-device-id: $device" -H "x-api-key: $key" --data-binary "$(batch "$device" "w$i")" &
  curls+=($!)
done
wait "${curls[@]}" || true
seq_is() { [[ $(redis_cli get "$E2E_PREFIX:s:{$device}:seq") == "$1" ]]; }
seq_is 13 || fail "parallel requests: seq $(redis_cli get "$E2E_PREFIX:s:{$device}:seq"), expected 13"
log "restarting redis with no traffic"
redis_down
redis_up
for i in 1 2 3; do
  status=$(post_ingest "$port" "$device" "$key" "$(batch "$device" "q$i")")
  [[ $status == 200 ]] || fail "request $i after a quiet redis restart: $status $(cat "$E2E_DIR/resp.json")"
done
[[ $(json "$E2E_DIR/resp.json" '["first_seq"]') == 16 ]] || fail "seqs after the quiet restart: $(cat "$E2E_DIR/resp.json")"

# 5. SIGTERM with a request in flight (headers and part of the body sent): the node stops
# listening, lets that request finish with 200, then exits 0 within the bound (drain delay 0 +
# drain timeout).
inflight=$E2E_DIR/inflight
python3 - "$port" "$device" "$key" "$(batch "$device" term1)" "$inflight" <<'PY' &
import os, socket, sys, time
port, dev, key, body, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4].encode(), sys.argv[5]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
head = (f"POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Device-Id: {dev}\r\n"
        f"X-Api-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
s.sendall(head + body[:10])
open(out + ".sent", "w").close()
deadline = time.time() + 10
while not os.path.exists(out + ".go"):
    if time.time() > deadline: sys.exit("no go signal")
    time.sleep(0.02)
s.sendall(body[10:])
resp = b""
while True:
    chunk = s.recv(65536)
    if not chunk: break
    resp += chunk
    head_end = resp.find(b"\r\n\r\n")
    if head_end >= 0:
        length = [int(l.split(b":")[1]) for l in resp[:head_end].split(b"\r\n") if l.lower().startswith(b"content-length:")]
        if length and len(resp) >= head_end + 4 + length[0]: break
open(out + ".status", "w").write(resp.split(b" ")[1].decode())
PY
client_pid=$!
wait_for 10 test -f "$inflight.sent"
start=$EPOCHREALTIME
kill -TERM "$node_pid"
wait_for 5 grep -q '"msg":"ingest draining"' "$E2E_DIR/node.log"
kill -0 "$node_pid" 2>/dev/null || fail "the node exited with a request in flight"
[[ $(http_status "http://127.0.0.1:$port/readyz") == 000 ]] || fail "still accepting connections while draining"
touch "$inflight.go"
wait "$client_pid" || fail "the in-flight client failed"
[[ $(cat "$inflight.status") == 200 ]] || fail "in-flight request during drain: $(cat "$inflight.status")"
seq_is 17 || fail "the in-flight request was not stored: seq $(redis_cli get "$E2E_PREFIX:s:{$device}:seq")"
rc=0
stop_ees node TERM || rc=$?
elapsed_ms=$(((${EPOCHREALTIME/./} - ${start/./}) / 1000))
((rc == 0)) || fail "ees serve exited $rc after SIGTERM"
((elapsed_ms <= drain_timeout_ms + 2000)) || fail "exit took ${elapsed_ms} ms (bound ${drain_timeout_ms} ms)"
grep -q '"msg":"ingest stopped"' "$E2E_DIR/node.log" || fail "no 'ingest stopped' log line"

delete_prefix_keys
log "PASS (exit after SIGTERM in ${elapsed_ms} ms)"
