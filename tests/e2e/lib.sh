# shellcheck shell=bash
# Helpers for end-to-end scripts. Source it first thing:
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   # shellcheck source=tests/e2e/lib.sh
#   source "$(dirname "$0")/lib.sh"
#
# (lint from the repo root with `shellcheck -x tests/e2e/*.sh`)
#
# scripts/test runs each tests/e2e/*.sh with the services' env exported (EES_TEST_REDIS_URL,
# EES_TEST_POSTGRES_URL, EES_TEST_S3_ENDPOINT, EES_TEST_S3_BUCKET, AWS_*, EES_SERVICES_DIR) plus
# EES_BIN (the release binary) and E2E_DIR (an empty per-script work/log directory).
# Redis, Postgres and the bucket are SHARED by all scripts and by `swift test`: use a key prefix,
# schema or object prefix of your own (e.g. "e2e-$E2E_NAME").
#
# On exit (normal, failure, SIGINT/SIGTERM) every ees process started with start_ees is stopped.
# A script that sets its own EXIT trap must call stop_all_ees from it.

set -euo pipefail

E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_NAME=$(basename "$0" .sh)
if [[ -z ${E2E_DIR:-} ]]; then
  E2E_DIR=$(mktemp -d "/tmp/ees-e2e-$E2E_NAME.XXXXXX") # run by hand, outside scripts/test
fi
mkdir -p "$E2E_DIR"
export E2E_REPO E2E_NAME E2E_DIR

_E2E_PIDS=() # PIDs started by start_ees, in order

# Print FAIL and exit 1 (the EXIT trap stops the ees processes).
fail() {
  printf 'FAIL: %s: %s\n' "$E2E_NAME" "$*" >&2
  exit 1
}

log() { printf '[%s %s] %s\n' "$E2E_NAME" "$(date +%H:%M:%S)" "$*" >&2; }

# wait_for SECONDS CMD [ARGS...] — run CMD every 0.1 s until it succeeds; fail after SECONDS.
wait_for() {
  local secs=$1
  shift
  (($# > 0)) || fail "wait_for: no command"
  local end=$((${EPOCHREALTIME/./} + secs * 1000000))
  until "$@" >/dev/null 2>&1; do
    ((${EPOCHREALTIME/./} < end)) || fail "timed out after ${secs}s waiting for: $*"
    sleep 0.1
  done
}

# A free loopback TCP port (bind to port 0 and report what the kernel picked).
http_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_ees NAME ARGS... — run "$EES_BIN" ARGS in the background, output to $E2E_DIR/NAME.log
# (appended, so a restart keeps the earlier output), PID recorded (also in $E2E_DIR/NAME.pid).
# Sets EES_PID to the new PID. Call it in the script's own shell, not inside $(...).
start_ees() {
  local name=$1
  shift
  [[ -n ${EES_BIN:-} && -x $EES_BIN ]] || fail "EES_BIN is not an executable: '${EES_BIN:-}'"
  [[ ! -e $E2E_DIR/$name.pid ]] || fail "start_ees: '$name' already started"
  "$EES_BIN" "$@" </dev/null >>"$E2E_DIR/$name.log" 2>&1 &
  EES_PID=$!
  _E2E_PIDS+=("$EES_PID")
  printf '%s\n' "$EES_PID" >"$E2E_DIR/$name.pid"
  log "started $name (PID $EES_PID): ees $*"
}

# ees_pid NAME — the PID start_ees recorded for NAME.
ees_pid() { cat "$E2E_DIR/$1.pid"; }

# stop_ees NAME [SIGNAL] — signal one ees process (default TERM; KILL for a crash) and wait up to
# 10 s for it to exit (then SIGKILL). Returns its exit status (143 = died of SIGTERM), so under
# set -e write `stop_ees x || rc=$?` when that status matters, `stop_ees x || true` otherwise.
stop_ees() {
  local name=$1 sig=${2:-TERM} pid p rc=0 keep=()
  pid=$(ees_pid "$name")
  kill -"$sig" "$pid" 2>/dev/null || true
  _e2e_reap "$pid" 10 || rc=$?
  rm -f "$E2E_DIR/$name.pid"
  for p in "${_E2E_PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
  _E2E_PIDS=("${keep[@]}")
  return "$rc"
}

# Wait for a child PID, at most SECS; SIGKILL it after that. Returns its exit status.
_e2e_reap() {
  local pid=$1 secs=$2 end
  end=$((${EPOCHREALTIME/./} + secs * 1000000))
  while kill -0 "$pid" 2>/dev/null; do
    # A child that has exited but is not yet reaped still answers kill -0: ask /proc.
    [[ $(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null) != Z ]] || break
    if ((${EPOCHREALTIME/./} >= end)); then
      printf '%s: PID %s did not exit within %ss; SIGKILL\n' "$E2E_NAME" "$pid" "$secs" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

# Stop every process start_ees started (exactly those PIDs): SIGTERM to all, then reap each.
stop_all_ees() {
  local pid
  for pid in "${_E2E_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${_E2E_PIDS[@]}"; do _e2e_reap "$pid" 10 || true; done
  _E2E_PIDS=()
}

# redis-cli against the test Redis (host/port from EES_TEST_REDIS_URL=redis://HOST:PORT[/DB]).
redis_cli() {
  local hp=${EES_TEST_REDIS_URL:?EES_TEST_REDIS_URL is not set}
  hp=${hp#redis://}
  hp=${hp%%/*}
  redis-cli -h "${hp%:*}" -p "${hp##*:}" "$@"
}

# psql against the test database, stopping at the first error, no ~/.psqlrc.
psql_ees() { psql -X -q -v ON_ERROR_STOP=1 "${EES_TEST_POSTGRES_URL:?EES_TEST_POSTGRES_URL is not set}" "$@"; }

# scripts/services (stop-one/start-one/pid NAME) for failure tests.
services() { "$E2E_REPO/scripts/services" "$@"; }

# The exit status survives the cleanup; signals become exits so the EXIT trap runs.
trap 'rc=$?; stop_all_ees; exit "$rc"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
