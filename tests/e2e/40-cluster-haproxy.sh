#!/usr/bin/env bash
# The cluster behind a load balancer, as deployed (compose.yaml, k8s/): haproxy on one loopback port
# in front of three `ees serve --roles ingest` nodes, two flushers, two processors, S3 (moto) and
# the shared Postgres. `ees simulate` drives 40 provisioned devices through the balancer while:
#   1. ingest-1 hangs (SIGSTOP) with requests in flight and is then killed (SIGKILL): the balancer
#      answers those requests 502/504, the simulator resends them with the same event ids;
#   2. ingest-2 gets SIGTERM, drains (readyz 503 → haproxy takes it out → listener closes), exits 0
#      within its bound, and is restarted on the same port;
#   3. the flusher holding the most partition leases is killed (SIGKILL) and restarted: the other
#      takes the leases over after the TTL and re-flushes any pending range;
#   4. a processor (one holding unacknowledged notifications, if any) is killed (SIGKILL): the
#      other claims its entries after --claim-idle-ms.
# Then, with bounded waits, everything is flushed and processed, and tests/e2e/clustercheck.py
# proves: every event the simulator saw acknowledged is in S3 exactly once (per-stream seqs 1..N,
# N = accepted), in Postgres exactly once (temperature rows == accepted, anomaly_events == the
# report's anomalies), and the retries left no duplicate in the log.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

t0=$SECONDS
tag="e2e40$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')" # Redis prefix and device/stream names
devices=40
events=8000
rate=1000 # events/s: the run lasts ~8 s, long enough for the four failures to land mid-run
partitions=16
export EES_REDIS_URL=$EES_TEST_REDIS_URL EES_REDIS_PREFIX=$tag
export EES_OBJECT_STORE="s3://$EES_TEST_S3_BUCKET?endpoint=$EES_TEST_S3_ENDPOINT"
export EES_POSTGRES_URL=$EES_TEST_POSTGRES_URL
# Short timings so that failover happens within the run: lease TTL 2 s (flusher failover), claim
# after 2 s idle (processor failover), flush every 500 ms (many segments, so a crash lands between
# PUT and commit sometimes), drain delay 600 ms (3 haproxy checks at 200 ms).
flusher_opts=(--lease-ttl-ms 2000 --flush-age-ms 500 --flush-events 200)
processor_opts=(--claim-idle-ms 2000)
ingest_opts=(--rate-events-per-s 0 --drain-delay-ms 600 --drain-timeout-ms 5000)
drain_bound_s=7 # 0.6 s delay + 5 s in-flight bound + process exit

haproxy_pid=""
sim_pid=""
cleanup() {
  local rc=$?
  if [[ -n $sim_pid ]]; then kill -TERM "$sim_pid" 2>/dev/null || true; fi
  # ingest-1 may still be stopped (SIGSTOP) if the script failed mid-step: SIGTERM needs it running.
  if [[ -f $E2E_DIR/ingest-1.pid ]]; then kill -CONT "$(ees_pid ingest-1)" 2>/dev/null || true; fi
  stop_all_ees
  if [[ -n $haproxy_pid ]]; then
    kill -TERM "$haproxy_pid" 2>/dev/null || true
    wait "$haproxy_pid" 2>/dev/null || true
  fi
  # Shared servers: remove this run's Redis keys and Postgres rows (S3 is moto's memory, thrown away).
  redis_cli EVAL "local c = '0' repeat local r = redis.call('SCAN', c, 'MATCH', ARGV[1], 'COUNT', 1000) c = r[1]
    for _, k in ipairs(r[2]) do redis.call('DEL', k) end until c == '0' return 0" 0 "$tag:*" >/dev/null 2>&1 || true
  psql_ees -c "DELETE FROM device_metrics WHERE stream_key LIKE '$tag-%'" \
    -c "DELETE FROM anomaly_events WHERE stream_key LIKE '$tag-%'" \
    -c "DELETE FROM processed_segments WHERE stream_key LIKE '$tag-%'" >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT

# Events accepted so far over all devices: the sum of the streams' seq counters (one Redis call).
accepted() {
  redis_cli EVAL "local t = 0 for i = 1, tonumber(ARGV[2]) do
    t = t + tonumber(redis.call('GET', ARGV[1] .. i .. '}:seq') or 0) end return t" 0 "$tag:s:{$tag-d-" "$devices"
}
reached() { (($(accepted) >= $1)); }
sim_running() { [[ -n $sim_pid ]] && kill -0 "$sim_pid" 2>/dev/null && [[ $(cut -d' ' -f3 "/proc/$sim_pid/stat") != Z ]]; }
# Each failure must land while the simulator is still sending, or it proves nothing.
wait_mid_run() { # EVENTS STEP
  wait_for 60 reached "$1"
  sim_running || fail "the simulator finished before step '$2' ($(accepted) events accepted)"
}
# Partition leases NODE holds now (lease value "<node>:<epoch>").
leases_of() {
  redis_cli EVAL "local n = 0 for p = 0, tonumber(ARGV[2]) - 1 do
    local v = redis.call('GET', ARGV[1] .. p .. '}:lease')
    if v and string.sub(v, 1, #ARGV[3] + 1) == ARGV[3] .. ':' then n = n + 1 end end return n" \
    0 "$tag:p:{" "$partitions" "$1"
}
# Notifications consumer NAME holds unacknowledged, over all partitions.
held_by() {
  redis_cli EVAL "local n = 0 for p = 0, tonumber(ARGV[2]) - 1 do
    local ok, r = pcall(redis.call, 'XPENDING', ARGV[1] .. p .. '}:segments', 'processor', '-', '+', 10000, ARGV[3])
    if ok then n = n + #r end end return n" 0 "$tag:p:{" "$partitions" "$1"
}
# Streams not yet fully flushed (flushed_seq < seq, or a flush pending).
unflushed() {
  redis_cli EVAL "local c = 0 for i = 1, tonumber(ARGV[2]) do
    local k = ARGV[1] .. i .. '}:'
    local seq = tonumber(redis.call('GET', k .. 'seq') or 0)
    local f = tonumber(redis.call('HGET', k .. 'meta', 'flushed_seq') or 0)
    local p = redis.call('HGET', k .. 'meta', 'pending')
    if f ~= seq or (p and p ~= '') then c = c + 1 end end return c" 0 "$tag:s:{$tag-d-" "$devices"
}
all_flushed() { [[ $(unflushed) == 0 ]]; }
# Every committed segment is processed: processed_segments covers the index, nothing is pending.
segments_indexed() {
  redis_cli EVAL "local t = 0 for i = 1, tonumber(ARGV[2]) do
    t = t + redis.call('ZCARD', ARGV[1] .. i .. '}:segs') end return t" 0 "$tag:s:{$tag-d-" "$devices"
}
segments_processed() { psql_ees -tA -c "SELECT count(*) FROM processed_segments WHERE stream_key LIKE '$tag-%'"; }
pending_total() {
  redis_cli EVAL "local n = 0 for p = 0, tonumber(ARGV[2]) - 1 do
    local ok, r = pcall(redis.call, 'XPENDING', ARGV[1] .. p .. '}:segments', 'processor')
    if ok then n = n + r[1] end end return n" 0 "$tag:p:{" "$partitions"
}
all_processed() { [[ $(segments_processed) == "$(segments_indexed)" && $(pending_total) == 0 ]]; }
exited() { # PID
  ! kill -0 "$1" 2>/dev/null || [[ $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) == Z ]]
}
haproxy_server_field() { # SERVER FIELD — one column of haproxy's CSV stats (5 scur, 8 stot, 15 eresp, 18 status)
  curl -fsS "http://127.0.0.1:$stats_port/stats;csv" | awk -F, -v s="$1" -v f="$2" '$1 == "ingest" && $2 == s { print $f }'
}
haproxy_server_state() { haproxy_server_field "$1" 18; } # UP | DOWN | …
server_down() { [[ $(haproxy_server_state "$1") == DOWN* ]]; }
server_up() { [[ $(haproxy_server_state "$1") == UP* ]]; }
ready() { curl -fsS "http://127.0.0.1:$1/readyz"; }

# --------------------------------------------------------------------------------- the cluster
"$EES_BIN" migrate --postgres "$EES_TEST_POSTGRES_URL" >"$E2E_DIR/migrate.out" 2>&1 ||
  fail "ees migrate on the shared database: $(cat "$E2E_DIR/migrate.out")"

declare -a iport
for i in 1 2 3; do iport[i]=$(http_port); done
lb_port=$(http_port)
stats_port=$(http_port)
start_ingest() { # N
  start_ees "ingest-$1" serve --roles ingest --listen "127.0.0.1:${iport[$1]}" --node-id "$tag-ingest-$1" "${ingest_opts[@]}"
}
for i in 1 2 3; do start_ingest "$i"; done
declare -A fgen=([a]=1 [b]=1)
start_flusher() { # a|b
  start_ees "flusher-$1" serve --roles flusher --listen "127.0.0.1:$(http_port)" --node-id "$tag-flusher-$1-${fgen[$1]}" \
    "${flusher_opts[@]}"
}
start_flusher a
start_flusher b
for p in a b; do
  start_ees "processor-$p" serve --roles processor --listen "127.0.0.1:$(http_port)" --node-id "$tag-processor-$p" \
    "${processor_opts[@]}"
done
for i in 1 2 3; do wait_for 20 ready "${iport[i]}"; done

cat >"$E2E_DIR/haproxy.cfg" <<EOF
global
  maxconn 2000
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout http-keep-alive 30s
  # A hung node's requests fail after 2 s (504) and the simulator resends them elsewhere.
  timeout server 2s
  # Only a refused connection is retried here (nothing was sent); everything else the devices retry.
  retries 3
  option redispatch
frontend ees
  bind 127.0.0.1:$lb_port
  default_backend ingest
backend ingest
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server check inter 200ms fall 2 rise 2
  server ingest-1 127.0.0.1:${iport[1]}
  server ingest-2 127.0.0.1:${iport[2]}
  server ingest-3 127.0.0.1:${iport[3]}
frontend stats
  bind 127.0.0.1:$stats_port
  stats enable
  stats uri /stats
EOF
haproxy -c -q -f "$E2E_DIR/haproxy.cfg" || fail "haproxy rejects $E2E_DIR/haproxy.cfg"
haproxy -db -f "$E2E_DIR/haproxy.cfg" </dev/null >>"$E2E_DIR/haproxy.log" 2>&1 &
haproxy_pid=$!
wait_for 10 ready "$lb_port"
for i in 1 2 3; do wait_for 10 server_up "ingest-$i"; done
log "cluster up: haproxy 127.0.0.1:$lb_port → ingest ${iport[*]}, flushers a b, processors a b (prefix $tag)"

# --------------------------------------------------------------------------------- traffic
run_started=$SECONDS
start_ees sim simulate --endpoint "http://127.0.0.1:$lb_port" --device-id "$tag-d" --devices "$devices" --provision \
  --count "$events" --rate "$rate" --batch-size 10 --connections 8 --anomaly-rate 0.05 --seed 40 \
  --backoff-max-ms 300 --request-timeout-ms 5000 --quiet --report-json "$E2E_DIR/report.json"
sim_pid=$EES_PID

# 1. ingest-1 hangs with requests in flight, then dies. haproxy would silently resend a request that
# failed on a reused connection, so the hang is held until those requests time out (504, after
# `timeout server`): the simulator sees the failures and resends the batches itself.
wait_mid_run 1000 "SIGKILL ingest-1"
kill -STOP "$(ees_pid ingest-1)"
wait_for 10 server_down ingest-1
stuck_requests_gone() { [[ $(haproxy_server_field ingest-1 5) == 0 ]]; } # scur: sessions on the server now
wait_for 10 stuck_requests_gone
stop_ees ingest-1 KILL || true
log "step 1: ingest-1 hung until haproxy marked it DOWN and its $(haproxy_server_field ingest-1 15) stuck requests failed" \
  "(eresp), then SIGKILL at $(accepted) events"

# 2. ingest-2 drains on SIGTERM and comes back on the same port.
wait_mid_run 2500 "SIGTERM ingest-2"
drain_started=$SECONDS
rc=0
stop_ees ingest-2 TERM || rc=$?
((rc == 0)) || fail "ingest-2 exited $rc after SIGTERM (0 expected: a graceful drain)"
((SECONDS - drain_started <= drain_bound_s)) || fail "ingest-2 took $((SECONDS - drain_started)) s to drain (bound ${drain_bound_s} s)"
grep -q '"ingest draining"' "$E2E_DIR/ingest-2.log" || fail "ingest-2 did not log its drain"
start_ingest 2
wait_for 20 ready "${iport[2]}"
wait_for 10 server_up ingest-2
log "step 2: ingest-2 drained in $((SECONDS - drain_started)) s (exit 0), restarted and back in the balancer at $(accepted) events"

# 3. the flusher leading the most partitions dies; a new one starts in its place.
wait_mid_run 4000 "SIGKILL a flusher"
la=$(leases_of "$tag-flusher-a-${fgen[a]}")
lb=$(leases_of "$tag-flusher-b-${fgen[b]}")
victim=a held=$la
if ((lb > la)); then victim=b held=$lb; fi
((held > 0)) || fail "no flusher holds a lease (a: $la, b: $lb)"
stop_ees "flusher-$victim" KILL || true
killed_at=${EPOCHREALTIME/./}
fgen[$victim]=$((fgen[$victim] + 1))
start_flusher "$victim"
# Failover: every partition is led by a live flusher again, after about one lease TTL (2 s).
all_leases_live() { (($(leases_of "$tag-flusher-a-${fgen[a]}") + $(leases_of "$tag-flusher-b-${fgen[b]}") == partitions)); }
wait_for 15 all_leases_live
log "step 3: flusher-$victim killed holding $held of $partitions leases (a: $la, b: $lb) at $(accepted) events;" \
  "restarted; all partitions led by live flushers again after $(((${EPOCHREALTIME/./} - killed_at) / 1000)) ms"

# 4. a processor dies, preferably while it holds unacknowledged notifications (it holds each for a
# few ms only: look for up to 3 s, then take processor-a anyway).
wait_mid_run 5500 "SIGKILL a processor"
pvictim="" pheld=0
look_until=$((${EPOCHREALTIME/./} + 3000000))
while [[ -z $pvictim ]] && ((${EPOCHREALTIME/./} < look_until)); do
  for p in a b; do
    n=$(held_by "$tag-processor-$p")
    if ((n > 0)); then pvictim=$p pheld=$n && break; fi
  done
done
pvictim=${pvictim:-a}
stop_ees "processor-$pvictim" KILL || true
# Counted again now that it is dead: it may have acknowledged an entry between the look and the kill.
pheld=$(held_by "$tag-processor-$pvictim")
psurvivor=$([[ $pvictim == a ]] && echo b || echo a)
log "step 4: processor-$pvictim killed holding $pheld notifications at $(accepted) events"

# --------------------------------------------------------------------------------- the end state
sim_done() { exited "$sim_pid"; }
wait_for 90 sim_done
rc=0
stop_ees sim || rc=$? # already exited: this only reaps it and returns its status
sim_pid=""
((rc == 0)) || fail "ees simulate exited $rc (a batch was never acknowledged): $(tail -5 "$E2E_DIR/sim.log")"
run_s=$((SECONDS - run_started))
log "simulator done in ${run_s} s: $(grep -E '^(events|requests):' "$E2E_DIR/sim.log" | tr -s ' ' | tr '\n' ';')"

drain_started=$SECONDS
wait_for 60 all_flushed
flushed_s=$((SECONDS - drain_started))
wait_for 90 all_processed
processed_s=$((SECONDS - drain_started))
log "flushed ${flushed_s} s and processed ${processed_s} s after the simulator finished: $(segments_indexed) segments"

[[ $(held_by "$tag-processor-$pvictim") == 0 ]] || fail "the dead processor's notifications were not claimed"
if ((pheld > 0)); then
  grep -q '"idle notifications claimed"' "$E2E_DIR/processor-$psurvivor.log" ||
    fail "processor-$psurvivor never claimed the dead processor's notifications"
fi
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["errors"] else 1)' "$E2E_DIR/report.json" ||
  fail "no request failed: the failures did not hit requests in flight, so no retry was exercised"

python3 "$E2E_REPO/tests/e2e/clustercheck.py" --report "$E2E_DIR/report.json" --prefix "$tag" --ees "$EES_BIN" \
  --segments-dir "$E2E_DIR/segments" || fail "the end state does not match what the simulator saw acknowledged"

per_node=$(curl -fsS "http://127.0.0.1:$stats_port/stats;csv" |
  awk -F, '$1 == "ingest" && $2 ~ /^ingest-/ { printf "%s %s (failed %s), ", $2, $8, $15 }')
log "requests per ingest node (haproxy): ${per_node%, }"
log "PASS in $((SECONDS - t0)) s"
