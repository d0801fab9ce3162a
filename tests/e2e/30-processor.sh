#!/usr/bin/env bash
# Processor end to end, with the release binary as users run it:
#   - `ees migrate` from empty, twice at once, and again; a processor refuses an unmigrated database;
#   - ingest + flusher, and three processors: proc-c dies right after its first COMMIT (EES_FAULT),
#     proc-a is killed -9 while it holds entries, Postgres is stopped and restarted mid-run;
#   - at the end device_metrics has every accepted event's metrics exactly once, anomaly_events
#     exactly the readings above 80, nothing is pending and nothing was dead-lettered.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

tag="e2e30$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')" # Redis prefix, database and device names
db=$tag
empty_db=${tag}_empty
pg_url="${EES_TEST_POSTGRES_URL%/*}/$db"
objects="$E2E_DIR/objects"
common=(--redis "$EES_TEST_REDIS_URL" --redis-prefix "$tag")
partitions=16
per_batch=20
batches=90

psql_db() { psql -X -q -tA -v ON_ERROR_STOP=1 "$pg_url" "$@"; }
scalar() { psql_db -c "$1"; }

pg_stopped=0
cleanup() {
  local rc=$?
  stop_all_ees
  if ((pg_stopped)); then services start-one postgres || true; fi
  psql_ees -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "DROP DATABASE IF EXISTS $empty_db WITH (FORCE)" >/dev/null 2>&1 || true
  redis_cli EVAL "local c = '0' repeat local r = redis.call('SCAN', c, 'MATCH', ARGV[1], 'COUNT', 1000) c = r[1]
    for _, k in ipairs(r[2]) do redis.call('DEL', k) end until c == '0' return 0" 0 "$tag:*" >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------- migrations
psql_ees -c "CREATE DATABASE $db" -c "CREATE DATABASE $empty_db" >/dev/null
"$EES_BIN" migrate --postgres "$pg_url" >"$E2E_DIR/migrate-1.out" 2>&1 &
m1=$!
"$EES_BIN" migrate --postgres "$pg_url" >"$E2E_DIR/migrate-2.out" 2>&1 &
m2=$!
wait "$m1" || fail "first concurrent migrate failed: $(cat "$E2E_DIR/migrate-1.out")"
wait "$m2" || fail "second concurrent migrate failed: $(cat "$E2E_DIR/migrate-2.out")"
[[ $(scalar "SELECT count(*) FROM schema_migrations") == 1 ]] || fail "concurrent migrations applied a version twice"
grep -q "migrated from version 0" "$E2E_DIR/migrate-1.out" "$E2E_DIR/migrate-2.out" || fail "neither migrate applied the schema"
"$EES_BIN" migrate --postgres "$pg_url" | grep -q "is current at version" || fail "a second migrate was not a no-op"

mkdir -p "$objects"
# A processor refuses a database that was never migrated, with one line naming `ees migrate`.
rc=0
timeout 30 "$EES_BIN" serve --roles processor --postgres "${EES_TEST_POSTGRES_URL%/*}/$empty_db" \
  --object-store "file://$objects" "${common[@]}" >"$E2E_DIR/unmigrated.out" 2>&1 || rc=$?
((rc != 0 && rc != 124)) || fail "processor on an unmigrated database: exit $rc"
if [[ $(wc -l <"$E2E_DIR/unmigrated.out") != 1 ]] || ! grep -q 'ees migrate' "$E2E_DIR/unmigrated.out"; then
  fail "unmigrated database: expected one line naming ees migrate, got: $(cat "$E2E_DIR/unmigrated.out")"
fi
log "migrations ok"

# ---------------------------------------------------------------------------------- the cluster
declare -a keys
for d in 0 1 2 3; do keys[d]=$("$EES_BIN" device add --device-id "$tag-dev$d" "${common[@]}"); done
port=$(http_port)
start_ees ingest serve --roles ingest,flusher --listen "127.0.0.1:$port" --flush-age-ms 200 \
  --object-store "file://$objects" --node-id "$tag-ingest" "${common[@]}"
wait_for 20 curl -fsS "http://127.0.0.1:$port/readyz"
proc=(serve --roles processor --listen 127.0.0.1:0 --postgres "$pg_url" --claim-idle-ms 2000 --object-store "file://$objects" "${common[@]}")
start_ees proc-a "${proc[@]}" --node-id "$tag-proc-a"
start_ees proc-b "${proc[@]}" --node-id "$tag-proc-b"
EES_FAULT=processor-crash-after-commit:1 start_ees proc-c "${proc[@]}" --node-id "$tag-proc-c"

# ---------------------------------------------------------------------------------- traffic
# Event i: every 10th has no metrics; the others carry temperature 20.25 + (i*37 % 75) (above 80
# exactly when i*37 % 75 >= 60), humidity, and a boolean that is not a metric.
t0=$(date +%s%3N)
batch_body() {
  local b=$1 d=$(($1 % 4)) k i r payload events="" sep=""
  for ((k = 0; k < per_batch; k++)); do
    i=$((b * per_batch + k))
    r=$((i * 37 % 75))
    if ((i % 10 == 9)); then payload='{"status":"idle"}'; else
      payload="{\"temperature\":$((20 + r)).25,\"humidity\":$((i % 50)),\"door_open\":false}"
    fi
    events+="$sep{\"event_id\":\"ev-$i\",\"event_type\":\"reading\",\"ts_device_ms\":$((t0 + i)),\"payload\":$payload}"
    sep=,
  done
  printf '{"device_id":"%s","batch_id":"b-%s","sent_at_ms":%s,"events":[%s]}' "$tag-dev$d" "$b" "$t0" "$events"
}
# send_batch B: POST until 200 (a retry of the same events is deduplicated), at most 50 tries.
send_batch() {
  local b=$1 d=$(($1 % 4)) attempt code
  for ((attempt = 0; attempt < 50; attempt++)); do
    code=$(batch_body "$b" | curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
      -H "x-device-id: $tag-dev$d" -H "x-api-key: ${keys[d]}" --data-binary @- "http://127.0.0.1:$port/ingest" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.2
  done
  fail "batch $b was not accepted (last status $code)"
}
send_range() { # FROM TO [PAUSE]
  local b
  for ((b = $1; b < $2; b++)); do
    send_batch "$b"
    if [[ -n ${3:-} ]]; then sleep "$3"; fi
  done
}

# Entries that consumer NAME holds unacknowledged, over all partitions.
held_by() {
  local p n=0 lines
  for ((p = 0; p < partitions; p++)); do
    lines=$(redis_cli XPENDING "$tag:p:{$p}:segments" processor - + 10000 "$1" | wc -l)
    n=$((n + lines / 4))
  done
  echo "$n"
}
# The highest delivery count among entries consumer NAME holds.
deliveries_max() {
  local p
  for ((p = 0; p < partitions; p++)); do
    redis_cli XPENDING "$tag:p:{$p}:segments" processor - + 10000 "$1" | awk 'NR % 4 == 0'
  done | sort -n | tail -n 1
}
all_pending() {
  local p n=0
  for ((p = 0; p < partitions; p++)); do
    n=$((n + $(redis_cli XPENDING "$tag:p:{$p}:segments" processor | head -n 1)))
  done
  echo "$n"
}

rows_written() { (($(scalar "SELECT count(*) FROM device_metrics") > 0)); }
holds_entries() { (($(held_by "$1") > 0)); }

send_range 0 30
wait_for 30 rows_written
# proc-c dies right after its first COMMIT, before XACK.
exited() { # NAME: the process has exited (a zombie not yet reaped counts)
  local pid
  pid=$(ees_pid "$1")
  ! kill -0 "$pid" 2>/dev/null || [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) == Z ]]
}
wait_for 30 exited proc-c
rc=0
stop_ees proc-c KILL || rc=$?
((rc == 137)) || fail "proc-c should have crashed at the fault point (exit 137), exit $rc"
log "proc-c crashed after a commit, holding $(held_by "$tag-proc-c") entries"

# Postgres goes away while traffic continues; proc-a is killed -9 while it holds entries.
pg_stopped=1
services stop-one postgres
outage_start=$SECONDS
send_range 30 60 0.1 &  # ~3 s of traffic, so both processors get entries to hold
sender=$!
wait_for 30 holds_entries "$tag-proc-a"
held=$(held_by "$tag-proc-a")
stop_ees proc-a KILL || true
log "proc-a killed -9 holding $held entries"
wait_for 30 grep -q '"dependency unavailable, retrying"' "$E2E_DIR/proc-b.log"
wait "$sender" || fail "sender failed during the outage"
# Three claim periods down: proc-b keeps its entries by touching them (no re-deliveries).
outage_long_enough() { ((SECONDS - outage_start >= 6)); }
wait_for 30 outage_long_enough
[[ $(deliveries_max "$tag-proc-b") == 1 ]] || fail "proc-b's entries were re-delivered during the outage"
services start-one postgres
pg_stopped=0
log "postgres back"
send_range 60 "$batches" 0.01

# ---------------------------------------------------------------------------------- the end state
events=$((batches * per_batch))
with_temp=0
above=0
for ((i = 0; i < events; i++)); do
  if ((i % 10 != 9)); then
    with_temp=$((with_temp + 1))
    if ((i * 37 % 75 >= 60)); then above=$((above + 1)); fi
  fi
done
caught_up() {
  [[ $(scalar "SELECT count(*) FROM device_metrics") == $((2 * with_temp)) && $(all_pending) == 0 ]]
}
wait_for 90 caught_up
[[ $(held_by "$tag-proc-a") == 0 && $(held_by "$tag-proc-c") == 0 ]] || fail "entries of the dead processors were not claimed"
grep -q '"idle notifications claimed"' "$E2E_DIR/proc-b.log" || fail "proc-b never claimed the dead processors' entries"
cat "$E2E_DIR/proc-a.log" "$E2E_DIR/proc-b.log" | grep -q '"segment was already processed"' || fail "proc-c's committed segment was not re-delivered"

got_temp=$(scalar "SELECT count(*) FROM device_metrics WHERE metric = 'temperature'")
got_distinct=$(scalar "SELECT count(DISTINCT (stream_key, seq)) FROM device_metrics")
got_anomalies=$(scalar "SELECT count(*) FROM anomaly_events")
got_distinct_anomalies=$(scalar "SELECT count(DISTINCT (stream_key, seq)) FROM anomaly_events WHERE value > 80 AND algorithm = 'threshold'")
got_streams=$(scalar "SELECT count(DISTINCT stream_key) FROM device_metrics")
segments=$(scalar "SELECT count(*) FROM processed_segments")
segment_rows=$(scalar "SELECT sum(rows) FROM processed_segments")
log "events=$events with_temperature=$with_temp above_80=$above | temperature rows=$got_temp distinct events=$got_distinct" \
  "anomalies=$got_anomalies (distinct $got_distinct_anomalies) segments=$segments holding $segment_rows events"
[[ $got_temp == "$with_temp" ]] || fail "temperature rows: $got_temp, expected $with_temp"
[[ $got_distinct == "$with_temp" ]] || fail "events with metrics: $got_distinct, expected $with_temp"
[[ $got_anomalies == "$above" && $got_distinct_anomalies == "$above" ]] ||
  fail "anomalies: $got_anomalies ($got_distinct_anomalies distinct), expected $above"
[[ $got_streams == 4 ]] || fail "streams with metrics: $got_streams"
[[ $segment_rows == "$events" ]] || fail "processed segments hold $segment_rows events, expected $events"
[[ $(redis_cli XLEN "$tag:dlq:segments") == 0 ]] || fail "dead letters: $(redis_cli XRANGE "$tag:dlq:segments" - + | head -n 40)"
derived=$(redis_cli --raw XRANGE "$tag:derived:anomalies" - + | awk 'prev == "id" { print } { prev = $0 }' | sort -u | wc -l)
[[ $derived == "$above" ]] || fail "derived anomaly.detected events: $derived distinct ids, expected $above"
log "PASS: $got_distinct events with metrics once each, $got_anomalies anomalies once each"
