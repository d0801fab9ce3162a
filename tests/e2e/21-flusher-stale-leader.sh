#!/usr/bin/env bash
# A stale leader cannot commit: flusher A freezes itself (SIGSTOP) right after a segment PUT and
# before its commit; its lease lapses, flusher B takes the partitions, re-flushes A's pending range
# and goes on; then A is resumed. A must not commit anything, must notice it lost its leases, and
# the log must still be exactly-once.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

prefix="e2e-stale-$RANDOM$RANDOM"
export EES_REDIS_URL=$EES_TEST_REDIS_URL EES_REDIS_PREFIX=$prefix
export EES_OBJECT_STORE="s3://$EES_TEST_S3_BUCKET?endpoint=$EES_TEST_S3_ENDPOINT"
flush_opts=(--lease-ttl-ms 2000 --flush-events 1000 --flush-age-ms 100)
stream="$prefix-s"
key=$("$EES_BIN" device add --device-id "$prefix-d" --stream-key "$stream")
meta="$prefix:s:{$stream}:meta"

port=$(http_port)
start_ees ingest serve --roles ingest --listen "127.0.0.1:$port"
wait_for 15 curl -fsS "http://127.0.0.1:$port/readyz"
a_port=$(http_port)
EES_FAULT=stop-after-put:1 start_ees flusher-a serve --roles flusher --listen "127.0.0.1:$a_port" --node-id stale-a "${flush_opts[@]}"
a_pid=$EES_PID

send() { # ID_PREFIX OUT
  python3 "$E2E_REPO/tests/e2e/eesload.py" send --endpoint "http://127.0.0.1:$port" --device "$prefix-d:$key" \
    --requests 3 --batch 10 --id-prefix "$1" --out "$2" >/dev/null
}
send one- "$E2E_DIR/sent1.jsonl"
frozen() { [[ $(cut -d' ' -f3 "/proc/$a_pid/stat") == T ]]; }
wait_for 20 frozen
pending=$(redis_cli HGET "$meta" pending)
[[ -n $pending ]] || fail "A froze after its PUT, but no flush is pending"
log "A (PID $a_pid) frozen after PUT with pending range $pending"

start_ees flusher-b serve --roles flusher --listen "127.0.0.1:$(http_port)" --node-id fresh-b "${flush_opts[@]}"
flushed_to() { [[ $(redis_cli HGET "$meta" flushed_seq) == "$1" && -z $(redis_cli HGET "$meta" pending) ]]; }
wait_for 20 flushed_to 30
send two- "$E2E_DIR/sent2.jsonl"
wait_for 20 flushed_to 60
log "B re-flushed A's range $pending and flushed the rest"

kill -CONT "$a_pid"
lost() { grep -q '"msg":"flusher lease lost"' "$E2E_DIR/flusher-a.log"; }
wait_for 15 lost
committed_by_a=$(curl -fsS "http://127.0.0.1:$a_port/metrics" | awk '$1 == "ees_flusher_segments_total" {print $2}')
[[ $committed_by_a == 0 ]] || fail "the stale leader committed $committed_by_a segments"

mkdir -p "$E2E_DIR/segs"
"$EES_BIN" segments cat --stream "$stream" >"$E2E_DIR/segs/$stream.jsonl"
python3 "$E2E_REPO/tests/e2e/eesload.py" verify --sent "$E2E_DIR/sent1.jsonl" --sent "$E2E_DIR/sent2.jsonl" \
  --segments-dir "$E2E_DIR/segs" --stream "$stream" || fail "segments do not match what was acknowledged"
log "PASS: stale leader resumed, committed nothing, log exactly once"
