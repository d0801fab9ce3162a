# shellcheck shell=bash
# Shared by the ingest end-to-end scripts (10-ingest-*.sh, 11-ingest-*.sh); sourced, not run.
#
# Needs the services' environment (scripts/test provides it; by hand: eval "$(scripts/services start)"
# and EES_BIN=.build/release/ees). redis_down / redis_up stop Redis and start it again on the same
# port with its AOF data.

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ -n ${EES_TEST_REDIS_URL:-} && -n ${EES_SERVICES_DIR:-} ]] \
  || fail "run under scripts/test, or after: eval \"\$(scripts/services start)\""

# The shared test Redis (AOF on): stop-one / start-one keep its port and data.
redis_ready() { [[ $(redis_cli ping 2>/dev/null) == PONG ]]; }
redis_down() { services stop-one redis; }
redis_up() { services start-one redis; }

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
