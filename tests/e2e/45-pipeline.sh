#!/usr/bin/env bash
# The whole path with the release binary: two ingest nodes, two flushers, two processors (S3 via
# moto, Postgres); two simulators with known anomalies, one per ingest node. Checks: every
# acknowledged event is in S3 exactly once with contiguous seqs per stream, Postgres has exactly
# its metrics and exactly the expected anomalies, and a wrong API key gets 401 and stores nothing.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

tag="e2e45$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
db=$tag
export EES_REDIS_URL=$EES_TEST_REDIS_URL EES_REDIS_PREFIX=$tag
export EES_POSTGRES_URL="${EES_TEST_POSTGRES_URL%/*}/$db"
export EES_OBJECT_STORE="s3://$EES_TEST_S3_BUCKET?endpoint=$EES_TEST_S3_ENDPOINT"
cleanup() {
  local rc=$?
  stop_all_ees
  psql_ees -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT
psql_ees -c "CREATE DATABASE $db" >/dev/null
"$EES_BIN" migrate >/dev/null

fast=(--flush-age-ms 300 --lease-ttl-ms 3000 --claim-idle-ms 5000)
ports=()
for n in 1 2; do
  ports+=("$(http_port)")
  start_ees "ingest-$n" serve --roles ingest --listen "127.0.0.1:${ports[-1]}" --node-id "$tag-i$n"
  start_ees "flusher-$n" serve --roles flusher --listen 127.0.0.1:0 --node-id "$tag-f$n" "${fast[@]}"
  start_ees "processor-$n" serve --roles processor --listen 127.0.0.1:0 --node-id "$tag-p$n" "${fast[@]}"
done
for p in "${ports[@]}"; do wait_for 20 curl -fsS "http://127.0.0.1:$p/readyz"; done

# A wrong key: 401, and nothing of that request is stored.
"$EES_BIN" device add --device-id "$tag-locked" >/dev/null
code=$(curl -s -o "$E2E_DIR/401.json" -w '%{http_code}' "http://127.0.0.1:${ports[0]}/ingest" -H 'content-type: application/json' \
  -H "x-device-id: $tag-locked" -H 'x-api-key: ees_wrong' \
  -d "{\"device_id\":\"$tag-locked\",\"batch_id\":\"b\",\"sent_at_ms\":1,\"events\":[{\"event_id\":\"x\",\"event_type\":\"t\",\"ts_device_ms\":1,\"payload\":{\"temperature\":99}}]}")
[[ $code == 401 ]] || fail "wrong key: expected 401, got $code"
[[ $(redis_cli EXISTS "$tag:s:{$tag-locked}:buf" "$tag:s:{$tag-locked}:seq") == 0 ]] || fail "a refused request stored something"

for n in 1 2; do
  "$EES_BIN" simulate --endpoint "http://127.0.0.1:${ports[n - 1]}" --device-id "$tag-d$n" --devices 3 --provision \
    --count 3000 --rate 3000 --batch-size 50 --anomaly-rate 0.03 --anomaly-mode "$([[ $n == 1 ]] && echo spike || echo drift)" \
    --quiet --report-json "$E2E_DIR/report-$n.json" >"$E2E_DIR/simulate-$n.out" 2>&1 &
  sims+=($!)
done
for pid in "${sims[@]}"; do wait "$pid" || fail "a simulator did not get every batch acknowledged"; done

accepted=$(python3 -c 'import json,sys; print(sum(json.load(open(f))["events_accepted"] for f in sys.argv[1:]))' "$E2E_DIR"/report-*.json)
processed() { [[ $(psql -X -tA "$EES_POSTGRES_URL" -c "SELECT count(*) FROM temperature_readings") == "$accepted" ]]; }
wait_for 90 processed
mkdir -p "$E2E_DIR/segs"
for n in 1 2; do
  for d in 1 2 3; do "$EES_BIN" segments cat --stream "$tag-d$n-$d" >"$E2E_DIR/segs/$tag-d$n-$d.jsonl"; done
done
python3 "$E2E_REPO/tests/e2e/pipecheck.py" --report "$E2E_DIR/report-1.json" --report "$E2E_DIR/report-2.json" \
  --segments-dir "$E2E_DIR/segs" --postgres "$EES_POSTGRES_URL" || fail "the pipeline's end state is wrong"
log "PASS: $accepted events through 2 ingest nodes, 2 flushers, 2 processors"
