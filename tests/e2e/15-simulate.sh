#!/usr/bin/env bash
# `ees simulate` against an ingest node, checked from Redis (tests/e2e/simcheck.py):
#   1. 5 devices provisioned by --provision, 5000 events with 5% anomalies: the report's accepted
#      count equals the events in the stream buffers, seqs have no gaps, every id is stored once,
#      and the report's anomaly list is exactly the buffered readings above 80 °C. Run again with
#      the same seed, it sends the same ids: all 5000 come back as duplicates, nothing is added.
#   2. The same while the ingest node is killed (SIGKILL) mid-run and restarted on the same port:
#      the simulator resends unanswered batches with the same ids, so every event still ends up
#      buffered exactly once (accepted + duplicates == sent == buffered, no seq gaps).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

prefix="e2e-sim-$RANDOM$RANDOM"
export EES_REDIS_URL=$EES_TEST_REDIS_URL EES_REDIS_PREFIX=$prefix
port=$(http_port)
endpoint="http://127.0.0.1:$port"

start_ingest() { # NAME
  start_ees "$1" serve --roles ingest --listen "127.0.0.1:$port" --rate-events-per-s 0
  wait_for 15 curl -fsS "$endpoint/readyz"
}

# Events buffered so far over the devices PREFIX-1..5 (sum of n over each stream's entries).
buffered() { # DEVICE_PREFIX
  local d total=0 n
  for d in 1 2 3 4 5; do
    n=$(redis_cli EVAL "local t=0 for _,e in ipairs(redis.call('XRANGE',KEYS[1],'-','+')) do
      for i=1,#e[2],2 do if e[2][i]=='n' then t=t+tonumber(e[2][i+1]) end end end return t" \
      1 "$prefix:s:{$1-$d}:buf")
    total=$((total + n))
  done
  echo "$total"
}

start_ingest ingest

# --- 1. a clean run: everything accepted once, nothing resent
"$EES_BIN" simulate --endpoint "$endpoint" --device-id "$prefix-a" --devices 5 --provision --count 5000 \
  --anomaly-rate 0.05 --rate 0 --seed 1 --connections 3 --report-json "$E2E_DIR/clean.json" \
  >"$E2E_DIR/clean.out" 2>"$E2E_DIR/clean.err" || fail "simulate (clean) failed: $(tail -3 "$E2E_DIR/clean.out")"
log "clean run: $(grep -E '^(events|anomalies|throughput)' "$E2E_DIR/clean.out" | tr '\n' ';')"
python3 "$E2E_REPO/tests/e2e/simcheck.py" --report "$E2E_DIR/clean.json" --prefix "$prefix" --exact ||
  fail "clean run: report and buffers disagree"
[[ $(buffered "$prefix-a") == 5000 ]] || fail "clean run: $(buffered "$prefix-a") events buffered, expected 5000"

# --- 1b. the same seed again (new keys, same ids): every event is a duplicate, nothing new stored
"$EES_BIN" simulate --endpoint "$endpoint" --device-id "$prefix-a" --devices 5 --provision --count 5000 \
  --anomaly-rate 0.05 --rate 0 --seed 1 --connections 3 --quiet --report-json "$E2E_DIR/again.json" \
  >"$E2E_DIR/again.out" 2>&1 || fail "simulate (same seed) failed: $(tail -3 "$E2E_DIR/again.out")"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if (r["events_accepted"], r["events_duplicate"]) == (0, 5000) else 1)' \
  "$E2E_DIR/again.json" || fail "same seed: expected 0 accepted and 5000 duplicates: $(grep ^events "$E2E_DIR/again.out")"
[[ $(buffered "$prefix-a") == 5000 ]] || fail "same seed: $(buffered "$prefix-a") events buffered, expected 5000"

# --- 2. the node dies (SIGKILL) twice mid-run and comes back on the same port each time. Small
# batches at a steady rate keep requests in flight, so a kill can land between the node storing a
# batch and answering it: that batch is resent with the same ids and reported as duplicates.
start_ees sim simulate --endpoint "$endpoint" --device-id "$prefix-k" --devices 5 --provision --count 5000 \
  --anomaly-rate 0.05 --anomaly-mode drift --rate 2000 --batch-size 10 --seed 2 --connections 5 \
  --backoff-max-ms 500 --report-json "$E2E_DIR/crash.json"
sim=$EES_PID
generation=1
for at in 1000 3000; do
  under_way() { (($(buffered "$prefix-k") >= at)); }
  wait_for 20 under_way
  stop_ees "ingest$( ((generation == 1)) || echo "-$generation")" KILL || true
  log "ingest node killed with $(buffered "$prefix-k") events buffered"
  sleep 0.5
  generation=$((generation + 1))
  start_ingest "ingest-$generation"
done
rc=0
wait "$sim" || rc=$?
((rc == 0)) || fail "simulate (crash) exited $rc: $(tail -8 "$E2E_DIR/sim.log")"
log "crash run: $(grep -E '^(events|requests)' "$E2E_DIR/sim.log" | tr '\n' ';')"
python3 "$E2E_REPO/tests/e2e/simcheck.py" --report "$E2E_DIR/crash.json" --prefix "$prefix" ||
  fail "crash run: report and buffers disagree"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["errors"] else 1)' "$E2E_DIR/crash.json" ||
  fail "crash run: no request failed, so the kill did not happen mid-run"
[[ $(buffered "$prefix-k") == 5000 ]] || fail "crash run: $(buffered "$prefix-k") events buffered, expected 5000"

# --- 3. a wrong key is refused (exit 1, 401 counted) and stores nothing
"$EES_BIN" simulate --endpoint "$endpoint" --device-id "$prefix-a-1" --api-key wrong --count 10 --quiet \
  --report-json "$E2E_DIR/wrong.json" >"$E2E_DIR/wrong.out" 2>&1 && fail "simulate with a wrong key exited 0"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["errors"].get("401") == 1 and r["events_accepted"] == 0 else 1)' \
  "$E2E_DIR/wrong.json" || fail "wrong key: expected one 401 and nothing accepted"
[[ $(buffered "$prefix-a") == 5000 ]] || fail "wrong key: the buffers changed"

# Clean up this script's keys (the Redis is shared).
redis_cli --scan --pattern "$prefix:*" | xargs -r -n 100 redis-cli -u "$EES_TEST_REDIS_URL" DEL >/dev/null
log "PASS"
