# shellcheck shell=bash
# Shared by the ingest end-to-end scripts (10-ingest-*.sh, 11-ingest-*.sh); sourced, not run.
#
# Under scripts/test, tests/e2e/lib.sh is there and provides the helpers (fail, log, wait_for,
# http_port, start_ees, stop_ees, redis_cli, ...), and the shared Redis is stopped and started
# again with `scripts/services stop-one|start-one redis`. Run alone — without lib.sh, or without
# the services' environment — this file defines the few helpers the scripts use and starts a
# redis-server of its own (AOF on, a free port, stopped by PID on exit):
#   swift build -c release --product ees && tests/e2e/10-ingest-redis-outage.sh
#
# After sourcing: EES_BIN, EES_TEST_REDIS_URL, E2E_DIR are set; redis_down / redis_up stop Redis
# and start it again on the same port with its data.

_ingest_e2e_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ -f $_ingest_e2e_dir/lib.sh ]]; then
  # shellcheck source=/dev/null
  source "$_ingest_e2e_dir/lib.sh"
else
  set -euo pipefail
  E2E_REPO=$(cd "$_ingest_e2e_dir/../.." && pwd)
  E2E_NAME=$(basename "$0" .sh)
  if [[ -z ${E2E_DIR:-} ]]; then E2E_DIR=$(mktemp -d "/tmp/ees-e2e-$E2E_NAME.XXXXXX"); fi
  mkdir -p "$E2E_DIR"
  _E2E_PIDS=()

  fail() {
    printf 'FAIL: %s: %s\n' "$E2E_NAME" "$*" >&2
    exit 1
  }
  log() { printf '[%s %s] %s\n' "$E2E_NAME" "$(date +%H:%M:%S)" "$*" >&2; }

  # wait_for SECONDS CMD... — run CMD every 0.1 s until it succeeds; fail after SECONDS.
  wait_for() {
    local secs=$1 end
    shift
    end=$((${EPOCHREALTIME/./} + secs * 1000000))
    until "$@" >/dev/null 2>&1; do
      ((${EPOCHREALTIME/./} < end)) || fail "timed out after ${secs}s waiting for: $*"
      sleep 0.1
    done
  }

  http_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  }

  # start_ees NAME ARGS... — "$EES_BIN" ARGS in the background, output in $E2E_DIR/NAME.log.
  start_ees() {
    local name=$1
    shift
    [[ -n ${EES_BIN:-} && -x $EES_BIN ]] || fail "EES_BIN is not an executable: '${EES_BIN:-}'"
    "$EES_BIN" "$@" </dev/null >>"$E2E_DIR/$name.log" 2>&1 &
    EES_PID=$!
    _E2E_PIDS+=("$EES_PID")
    printf '%s\n' "$EES_PID" >"$E2E_DIR/$name.pid"
    log "started $name (PID $EES_PID): ees $*"
  }

  ees_pid() { cat "$E2E_DIR/$1.pid"; }

  # stop_ees NAME [SIGNAL] — signal it, wait up to 10 s (then SIGKILL); returns its exit status.
  stop_ees() {
    local name=$1 sig=${2:-TERM} pid rc=0 end
    pid=$(ees_pid "$name")
    kill -"$sig" "$pid" 2>/dev/null || true
    end=$((${EPOCHREALTIME/./} + 10000000))
    while kill -0 "$pid" 2>/dev/null && [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) != Z ]]; do
      if ((${EPOCHREALTIME/./} >= end)); then
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
    done
    wait "$pid" 2>/dev/null || rc=$?
    rm -f "$E2E_DIR/$name.pid"
    local keep=() p
    for p in "${_E2E_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
    _E2E_PIDS=("${keep[@]}")
    return "$rc"
  }

  stop_all_ees() {
    local pid
    for pid in "${_E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${_E2E_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    _E2E_PIDS=()
  }

  redis_cli() {
    local hp=${EES_TEST_REDIS_URL:?EES_TEST_REDIS_URL is not set}
    hp=${hp#redis://}
    hp=${hp%%/*}
    redis-cli -h "${hp%:*}" -p "${hp##*:}" "$@"
  }

  trap 'rc=$?; stop_all_ees; exit "$rc"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
fi

: "${EES_BIN:=$E2E_REPO/.build/release/ees}"
export EES_BIN
[[ -x $EES_BIN ]] || fail "no ees binary at $EES_BIN (swift build -c release --product ees)"

redis_ready() { [[ $(redis_cli ping 2>/dev/null) == PONG ]]; }

if [[ -n ${EES_TEST_REDIS_URL:-} && -n ${EES_SERVICES_DIR:-} && -x $E2E_REPO/scripts/services ]]; then
  # The shared test Redis (AOF on): stop-one / start-one keep its port and data.
  redis_down() { "$E2E_REPO/scripts/services" stop-one redis; }
  redis_up() { "$E2E_REPO/scripts/services" start-one redis; }
else
  _own_redis_dir=$E2E_DIR/redis
  mkdir -p "$_own_redis_dir"
  _own_redis_port=$(http_port)
  _own_redis_pid=""
  export EES_TEST_REDIS_URL=redis://127.0.0.1:$_own_redis_port
  redis_up() {
    # Foreground server in the background of this shell, so $! is the server and `wait` reaps it.
    redis-server --port "$_own_redis_port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
      --dir "$_own_redis_dir" </dev/null >>"$_own_redis_dir/redis.log" 2>&1 &
    _own_redis_pid=$!
    wait_for 15 redis_ready
  }
  redis_down() {
    [[ -n $_own_redis_pid ]] || return 0
    kill -TERM "$_own_redis_pid" 2>/dev/null || true   # Redis writes its AOF on SIGTERM
    wait "$_own_redis_pid" 2>/dev/null || true
    _own_redis_pid=""
  }
  trap 'rc=$?; stop_all_ees; redis_down; exit "$rc"' EXIT
  redis_up
  log "own redis-server on 127.0.0.1:$_own_redis_port (PID $_own_redis_pid)"
fi

# A key prefix of this script's own (the Redis may be shared with other scripts and swift test).
E2E_PREFIX="e2e-$(printf '%s' "$E2E_NAME" | tr -c 'A-Za-z0-9' '-' | cut -c1-20)-$$"

# Deletes every key under E2E_PREFIX.
delete_prefix_keys() {
  local k
  redis_cli --scan --pattern "$E2E_PREFIX:*" | while IFS= read -r k; do redis_cli del "$k" >/dev/null; done
}

# json FILE EXPR — a field of a JSON file, e.g. `json body.json '["streams"][0]["first_seq"]'`;
# null prints as "null".
json() {
  python3 -c 'import json, sys; v = eval("json.load(open(sys.argv[1]))" + sys.argv[2]); print("null" if v is None else v)' "$1" "$2"
}

# post_ingest PORT DEVICE KEY BODY — POST /ingest; prints the status code ("000" when the
# connection failed); the response is in $E2E_DIR/resp.json and its headers in $E2E_DIR/resp.headers.
post_ingest() {
  curl -sS -o "$E2E_DIR/resp.json" -D "$E2E_DIR/resp.headers" -w '%{http_code}' --max-time 10 \
    -X POST "http://127.0.0.1:$1/ingest" -H 'content-type: application/json' -H "x-device-id: $2" -H "x-api-key: $3" \
    --data-binary "$4" 2>/dev/null || true
}

# http_status URL — the status code of a GET ("000" when the connection failed).
http_status() { curl -sS -o /dev/null -w '%{http_code}' --max-time 5 "$1" 2>/dev/null || true; }

# batch DEVICE EVENT_ID... — a request body with one small event per id.
batch() {
  local _dev=$1 _id _events=() IFS=,
  shift
  for _id in "$@"; do
    _events+=("{\"event_id\":\"$_id\",\"event_type\":\"reading\",\"ts_device_ms\":1700000000000,\"payload\":{\"temperature\":21.5}}")
  done
  printf '{"device_id":"%s","batch_id":"b-%s","sent_at_ms":1700000000000,"events":[%s]}' "$_dev" "$1" "${_events[*]}"
}
