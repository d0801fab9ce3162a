#!/usr/bin/env bash
# S3 down for a while: flushes fail and are retried, ingest keeps accepting until the stream's
# buffer reaches its high-water mark, then answers 503 + Retry-After; S3 back → everything drains
# and nothing acknowledged is lost or doubled.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

prefix="e2e-s3down-$RANDOM$RANDOM"
export EES_REDIS_URL=$EES_TEST_REDIS_URL EES_REDIS_PREFIX=$prefix
# Short S3 timeouts so a frozen server is noticed quickly (defaults: 30 s × 5 attempts).
export EES_OBJECT_STORE="s3://$EES_TEST_S3_BUCKET?endpoint=$EES_TEST_S3_ENDPOINT&connect_timeout_ms=1000&request_timeout_ms=1500&max_attempts=2"
stream="$prefix-s"
key=$("$EES_BIN" device add --device-id "$prefix-d" --stream-key "$stream")
meta="$prefix:s:{$stream}:meta"
buffer_empty() { [[ $(redis_cli HGET "$meta" buf_events) == 0 ]]; }
resume_s3() { services start-one s3 >/dev/null 2>&1 || true; }

port=$(http_port)
start_ees node serve --roles ingest,flusher --listen "127.0.0.1:$port" --lease-ttl-ms 3000 --flush-age-ms 100 \
  --buffer-high-water-events 2000 --rate-events-per-s 0
wait_for 15 curl -fsS "http://127.0.0.1:$port/readyz"
load() { python3 "$E2E_REPO/tests/e2e/eesload.py" send --endpoint "http://127.0.0.1:$port" --device "$prefix-d:$key" "$@"; }

load --requests 20 --batch 10 --id-prefix a- --out "$E2E_DIR/sent-a.jsonl" >/dev/null
wait_for 20 buffer_empty
log "S3 up: first 200 events flushed"

services stop-one s3 >/dev/null
trap 'rc=$?; resume_s3; stop_all_ees; exit "$rc"' EXIT
# Ingest goes on until the high-water mark (2000 events), then 503.
load --requests 400 --batch 10 --id-prefix b- --until-status 503 --out "$E2E_DIR/sent-b.jsonl" >"$E2E_DIR/b.out"
buffered=$(redis_cli HGET "$meta" buf_events)
log "S3 down: $(cat "$E2E_DIR/b.out"); buffered $buffered events"
((buffered > 1000 && buffered <= 2000)) || fail "expected the buffer to stop at the 2000-event mark, found $buffered"
code=$(curl -s -o /dev/null -w '%{http_code}' -D "$E2E_DIR/h503" -X POST "http://127.0.0.1:$port/ingest" \
  -H 'content-type: application/json' -H "x-device-id: $prefix-d" -H "x-api-key: $key" \
  --data "{\"device_id\":\"$prefix-d\",\"batch_id\":\"x\",\"sent_at_ms\":1,\"events\":[{\"event_id\":\"hw\",\"event_type\":\"t\",\"ts_device_ms\":1,\"payload\":{}}]}")
[[ $code == 503 ]] || fail "over the high-water mark: expected 503, got $code"
grep -qi '^retry-after: [0-9]' "$E2E_DIR/h503" || fail "503 without Retry-After"
write_failed() { grep -q '"msg":"segment write failed, will retry"' "$E2E_DIR/node.log"; }
wait_for 20 write_failed

resume_s3
wait_for 60 buffer_empty
load --requests 20 --batch 10 --id-prefix c- --out "$E2E_DIR/sent-c.jsonl" >/dev/null
wait_for 20 buffer_empty

mkdir -p "$E2E_DIR/segs"
"$EES_BIN" segments cat --stream "$stream" >"$E2E_DIR/segs/$stream.jsonl"
python3 "$E2E_REPO/tests/e2e/eesload.py" verify --sent "$E2E_DIR/sent-a.jsonl" --sent "$E2E_DIR/sent-b.jsonl" \
  --sent "$E2E_DIR/sent-c.jsonl" --segments-dir "$E2E_DIR/segs" --stream "$stream" \
  || fail "segments do not match what was acknowledged"
log "PASS: S3 outage → 503 at the high-water mark, drained after recovery, exactly once"
