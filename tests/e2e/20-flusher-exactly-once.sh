#!/usr/bin/env bash
# Exactly-once segments under flusher crashes: three flushers share the partitions while events
# stream in; flushers die by kill -9 at random moments and by an armed crash point between the
# object PUT and its commit, and are restarted. At the end every stream's segments hold seqs 1..N
# once each, in order, byte-identical to what was acknowledged, and no object is outside the index.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

prefix="e2e-fx-$RANDOM$RANDOM"
export EES_REDIS_URL=$EES_TEST_REDIS_URL EES_REDIS_PREFIX=$prefix
export EES_OBJECT_STORE="s3://$EES_TEST_S3_BUCKET?endpoint=$EES_TEST_S3_ENDPOINT"
flush_opts=(--lease-ttl-ms 2000 --flush-events 40 --flush-age-ms 100)

devices=()
streams=()
for n in 1 2 3 4; do
  key=$("$EES_BIN" device add --device-id "$prefix-d$n" --stream-key "$prefix-s$n")
  devices+=(--device "$prefix-d$n:$key")
  streams+=("$prefix-s$n")
done

port=$(http_port)
start_ees ingest serve --roles ingest --listen "127.0.0.1:$port" --rate-events-per-s 0
wait_for 15 curl -fsS "http://127.0.0.1:$port/readyz"

declare -A gen=([f1]=0 [f2]=0 [f3]=0)
current() { echo "$1-${gen[$1]}"; }
start_flusher() { # NAME FAULT
  gen[$1]=$((gen[$1] + 1))
  EES_FAULT=$2 start_ees "$(current "$1")" serve --roles flusher --listen "127.0.0.1:$(http_port)" \
    --node-id "$1-${gen[$1]}" "${flush_opts[@]}"
}
alive() { kill -0 "$(ees_pid "$(current "$1")")" 2>/dev/null && [[ $(cut -d' ' -f3 "/proc/$(ees_pid "$(current "$1")")/stat") != Z ]]; }

start_flusher f1 crash-after-put:0.05
start_flusher f2 crash-after-put:0.05
start_flusher f3 ""

python3 "$E2E_REPO/tests/e2e/eesload.py" send --endpoint "http://127.0.0.1:$port" "${devices[@]}" \
  --requests 2500 --batch 10 --rps 250 --out "$E2E_DIR/sent.jsonl" >"$E2E_DIR/send.out" &
sender=$!

# Chaos while the sender runs (bounded: the sender itself is bounded).
kills=0 restarts=0
while kill -0 "$sender" 2>/dev/null; do
  sleep 0.3
  for f in f1 f2 f3; do
    if ! alive "$f"; then
      stop_ees "$(current "$f")" KILL || true
      start_flusher "$f" "$([[ $f == f3 ]] && echo "" || echo crash-after-put:0.05)"
      restarts=$((restarts + 1))
    fi
  done
  if ((RANDOM % 3 == 0)); then
    victim=f$((RANDOM % 3 + 1))
    stop_ees "$(current "$victim")" KILL || true
    kills=$((kills + 1))
    start_flusher "$victim" "$([[ $victim == f3 ]] && echo "" || echo crash-after-put:0.05)"
  fi
done
wait "$sender" || fail "the sender failed: $(tail -3 "$E2E_DIR/send.out")"
log "sender done: $(cat "$E2E_DIR/send.out"); flusher kills: $kills, restarts after self-crash: $restarts"

# Drain with flushers that no longer crash.
for f in f1 f2; do stop_ees "$(current "$f")" KILL || true; start_flusher "$f" ""; done
drained() {
  local s
  for s in "${streams[@]}"; do
    [[ $(redis_cli HGET "$prefix:s:{$s}:meta" buf_events) == 0 ]] || return 1
    [[ -z $(redis_cli HGET "$prefix:s:{$s}:meta" pending) ]] || return 1
  done
}
wait_for 90 drained

mkdir -p "$E2E_DIR/segs"
for s in "${streams[@]}"; do
  "$EES_BIN" segments cat --stream "$s" >"$E2E_DIR/segs/$s.jsonl"
  # No orphans: the objects under the stream's prefix are exactly the committed index.
  "$EES_BIN" segments ls --stream "$s" | tail -n +2 | cut -f1 | sort >"$E2E_DIR/segs/$s.objects"
  redis_cli ZRANGE "$prefix:s:{$s}:segs" 0 -1 | sort >"$E2E_DIR/segs/$s.index"
  diff -u "$E2E_DIR/segs/$s.index" "$E2E_DIR/segs/$s.objects" >/dev/null \
    || fail "$s: objects and segment index differ: $(diff "$E2E_DIR/segs/$s.index" "$E2E_DIR/segs/$s.objects" | head -5)"
done
stream_args=()
for s in "${streams[@]}"; do stream_args+=(--stream "$s"); done
python3 "$E2E_REPO/tests/e2e/eesload.py" verify --sent "$E2E_DIR/sent.jsonl" --segments-dir "$E2E_DIR/segs" "${stream_args[@]}" \
  || fail "segments do not match what was acknowledged"
segments=$(cat "$E2E_DIR"/segs/*.index | wc -l)
((kills > 0)) || fail "the chaos loop never killed a flusher"
log "PASS: 25000 events in $segments segments, exactly once, after $kills kill -9 and $restarts crash-point deaths"
