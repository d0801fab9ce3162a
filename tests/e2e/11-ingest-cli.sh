#!/usr/bin/env bash
# The `ees` command line as an operator uses it: help and usage errors, device provisioning
# (add prints only the key; duplicates fail; rotate-key, disable, enable, list take effect on a
# running node at once), and a batch sent with curl is in Redis byte for byte.
set -euo pipefail
source "$(dirname "$0")/ingest-common.bash"

export EES_REDIS_URL=$EES_TEST_REDIS_URL EES_REDIS_PREFIX=$E2E_PREFIX
out=$E2E_DIR/stdout
errf=$E2E_DIR/stderr

# run ARGS... — runs ees (bounded: a command that wrongly starts a server must not hang the
# test), stdout/stderr to files; sets rc.
run() {
  rc=0
  timeout 20 "$EES_BIN" "$@" </dev/null >"$out" 2>"$errf" || rc=$?
}

# --- help and usage errors
run --help
((rc == 0)) || fail "ees --help exited $rc"
grep -q '^usage: ees' "$out" || fail "ees --help: $(cat "$out")"
for c in serve "device add" "device disable" "device rotate-key" "device list"; do
  grep -q "^  $c " "$out" || fail "ees --help does not list '$c'"
done
run serve --help
((rc == 0)) || fail "ees serve --help exited $rc"
grep -q -- '--listen VALUE' "$out" && grep -q 'EES_LISTEN' "$out" && grep -q 'default 127.0.0.1:8080' "$out" ||
  fail "ees serve --help: $(cat "$out")"
run device add --help
((rc == 0)) && grep -q -- '--device-id' "$out" || fail "ees device add --help: $(cat "$out")"

# Bad flags and values: exit 2, nothing on stdout, exactly one line on stderr, and no server started.
usage_error() {
  run "$@"
  ((rc == 2)) || fail "ees $*: exit $rc, expected 2 ($(cat "$errf"))"
  [[ ! -s $out ]] || fail "ees $*: wrote to stdout: $(cat "$out")"
  [[ $(wc -l <"$errf") -eq 1 ]] || fail "ees $*: expected one line on stderr, got: $(cat "$errf")"
}
usage_error serve --bogus
usage_error serve --listen
usage_error serve --listen nonsense
usage_error serve --http-threads 0
usage_error serve --events-max many
usage_error serve --roles ingest,teleporter
usage_error serve --redis http://127.0.0.1:1
usage_error serve --log-level loud
usage_error serve -x
usage_error serve stray-argument
usage_error device add
usage_error device add --device-id 'bad id'
usage_error device add --device-id ok --stream-key 'bad/key'
usage_error device add --device-id ok --bogus
usage_error device list extra-argument
usage_error device disable cli-1 cli-2
usage_error device rotate-key --device-id cli-1 cli-2
run serve --bogus
[[ $(cat "$errf") == "ees serve: unknown option --bogus" ]] || fail "bad flag message: $(cat "$errf")"

# --- provisioning
run device add --device-id cli-1 --stream-key cli-stream --tenant acme --site s1 --line l1 --machine m1
((rc == 0)) || fail "device add exited $rc: $(cat "$errf")"
[[ $(wc -l <"$out") -eq 1 ]] || fail "device add printed more than the key: $(cat "$out")"
key=$(cat "$out")
[[ $key =~ ^ees_[0-9a-f]{64}$ ]] || fail "device add printed '$key'"
hash=$(printf '%s' "$key" | sha256sum | cut -d' ' -f1)
dev_key="$E2E_PREFIX:device:{cli-1}"
[[ $(redis_cli hget "$dev_key" api_key_hash) == "$hash" ]] || fail "stored hash is not SHA-256 of the key"
[[ $(redis_cli hget "$dev_key" status) == active ]] || fail "new device is not active"
[[ $(redis_cli hget "$dev_key" stream_key) == cli-stream ]] || fail "stream key not stored"
redis_cli hgetall "$dev_key" | grep -qF "$key" && fail "the raw key is stored in Redis"

run device add --device-id cli-1
((rc != 0 && rc != 2)) || fail "duplicate add exited $rc"
[[ ! -s $out ]] || fail "duplicate add printed a key: $(cat "$out")"
grep -q 'already exists' "$errf" || fail "duplicate add: $(cat "$errf")"
[[ $(redis_cli hget "$dev_key" api_key_hash) == "$hash" ]] || fail "duplicate add changed the key"

run device disable no-such-device
((rc == 1)) || fail "disabling an unknown device exited $rc"

# --- a running node
port=$(http_port)
start_ees node serve --roles ingest --listen "127.0.0.1:$port" --device-cache-ttl-ms 600000
wait_for 15 curl -fsS "http://127.0.0.1:$port/readyz"
# The node must be listening for invalidations before the CLI publishes them.
wait_for 10 test "$(redis_cli pubsub numsub "$E2E_PREFIX:device-invalidate" | tail -n 1)" -ge 1

# An event with escapes, unicode and inner spaces: stored exactly as sent.
event='{"event_id":"é-1","event_type":"reading","ts_device_ms":1700000000000,"payload":{"t":21.5,"s":"a\"b\\c\u00e9","n":[1, 2.50, -0]}}'
body="{\"device_id\":\"cli-1\",\"batch_id\":\"b-1\",\"sent_at_ms\":1700000000000,\"events\":[$event]}"
status=$(post_ingest "$port" cli-1 "$key" "$body")
[[ $status == 200 ]] || fail "batch with the new key: $status $(cat "$E2E_DIR/resp.json")"
[[ $(json "$E2E_DIR/resp.json" '["streams"][0]["stream_key"]') == cli-stream ]] || fail "stream: $(cat "$E2E_DIR/resp.json")"
redis_cli --raw xrange "$E2E_PREFIX:s:{cli-stream}:buf" - + >"$E2E_DIR/xrange"
ev_line=$(awk 'prev == "ev" { print; exit } { prev = $0 }' "$E2E_DIR/xrange")
[[ $ev_line == "$event" ]] || fail "XRANGE ev differs from what was sent:
 sent:   $event
 stored: $ev_line"
grep -qx 1-0 "$E2E_DIR/xrange" || fail "buffer entry id: $(cat "$E2E_DIR/xrange")"

# A second node on the same port stops at once with one line (exit 2).
run serve --roles ingest --listen "127.0.0.1:$port"
((rc == 2)) || fail "serve on a port in use exited $rc: $(cat "$errf")"
[[ $(wc -l <"$errf") -eq 1 ]] && grep -q 'cannot listen on' "$errf" || fail "port in use: $(cat "$errf")"

# Redis unreachable: the CLI fails (exit 1) and never prints the URL's password.
closed=$(http_port)
rc=0
EES_REDIS_URL="redis://admin:s3cret-pw@127.0.0.1:$closed" timeout 20 "$EES_BIN" device add --device-id cli-9 >"$out" 2>"$errf" || rc=$?
((rc == 1)) || fail "device add with redis unreachable exited $rc"
[[ ! -s $out ]] || fail "device add with redis unreachable printed: $(cat "$out")"
grep -q 's3cret' "$errf" && fail "the Redis password is in the error: $(cat "$errf")"
grep -q "127.0.0.1:$closed" "$errf" || fail "the error does not say which Redis: $(cat "$errf")"

# rotate-key: prints only the new key; old key 401, new key 200 — at once, not after the TTL.
run device rotate-key cli-1
((rc == 0)) || fail "rotate-key exited $rc: $(cat "$errf")"
new_key=$(cat "$out")
[[ $new_key =~ ^ees_[0-9a-f]{64}$ && $new_key != "$key" ]] || fail "rotate-key printed '$new_key'"
attempt=0
until [[ $(post_ingest "$port" cli-1 "$key" "$(batch cli-1 "r$((attempt += 1))")") == 401 ]]; do
  ((attempt < 50)) || fail "old key still accepted after rotate-key"
  sleep 0.1
done
[[ $(json "$E2E_DIR/resp.json" '["message"]') == "invalid credentials" ]] || fail "401 body: $(cat "$E2E_DIR/resp.json")"
status=$(post_ingest "$port" cli-1 "$new_key" "$(batch cli-1 n1)")
[[ $status == 200 ]] || fail "new key: $status $(cat "$E2E_DIR/resp.json")"

# disable → 401 at once; enable → 200 again.
run device disable cli-1
((rc == 0)) || fail "disable exited $rc: $(cat "$errf")"
[[ ! -s $out ]] || fail "disable wrote to stdout: $(cat "$out")"
attempt=0
until [[ $(post_ingest "$port" cli-1 "$new_key" "$(batch cli-1 "d$((attempt += 1))")") == 401 ]]; do
  ((attempt < 50)) || fail "disabled device still accepted"
  sleep 0.1
done
run device enable cli-1
((rc == 0)) || fail "enable exited $rc"
attempt=0
until [[ $(post_ingest "$port" cli-1 "$new_key" "$(batch cli-1 "x$((attempt += 1))")") == 200 ]]; do
  ((attempt < 50)) || fail "re-enabled device still refused"
  sleep 0.1
done

# list: ids, status and placement; never keys or hashes.
run device add --device-id cli-0
run device list
((rc == 0)) || fail "device list exited $rc"
[[ $(head -n 1 "$out") == $'DEVICE_ID\tSTATUS\tSTREAM_KEY\tTENANT\tSITE\tLINE\tMACHINE' ]] || fail "list header: $(head -n 1 "$out")"
[[ $(sed -n 2p "$out") == $'cli-0\tactive\t-\t-\t-\t-\t-' ]] || fail "list row 1: $(sed -n 2p "$out")"
[[ $(sed -n 3p "$out") == $'cli-1\tactive\tcli-stream\tacme\ts1\tl1\tm1' ]] || fail "list row 2: $(sed -n 3p "$out")"
grep -qE 'ees_|[0-9a-f]{64}' "$out" && fail "device list shows a key or hash"

rc=0
stop_ees node TERM || rc=$?
((rc == 0)) || fail "ees serve exited $rc after SIGTERM"
delete_prefix_keys
log PASS
