#!/usr/bin/env bash
# `ees metabase provision` against tests/fake_metabase.py (no real Metabase runs here; the fake
# enforces the request shapes Metabase 0.47-0.50 documents):
#   1. a new instance, provisioned twice with a user and password: setup happens once; one
#      database, one collection, each card once (the second run updates it), one dashboard with
#      the three cards and the device filter mapped to each card's {{device}} tag;
#   2. a third run with an API key changes nothing but the updates;
#   3. a wrong password and a wrong API key: exit 1, a line naming the URL and HTTP 401;
#   4. a new instance with only an API key: exit 1, says --user/--password are needed;
#   5. an instance still starting (503 for 2 s): provisioning waits, then succeeds;
#   and no password, API key or session token appears in any output.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

mb_password='Fake-admin-pw-7391'
pg_password='pg-s3cret/with@chars'
pg_password_encoded='pg-s3cret%2Fwith%40chars'
api_key='mb_fakeKey_0123456789abcdef'
pg_url="postgres://ees:$pg_password_encoded@postgres:5432/ees?sslmode=disable"

fake_pids=()
cleanup() {
  local rc=$? pid
  stop_all_ees
  for pid in "${fake_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    _e2e_reap "$pid" 10 || true
  done
  exit "$rc"
}
trap cleanup EXIT

# start_fake NAME [ARGS...]: runs a fake on a free port; sets fake_url.
start_fake() {
  local name=$1
  shift
  python3 "$E2E_REPO/tests/fake_metabase.py" --port-file "$E2E_DIR/$name.port" "$@" \
    >"$E2E_DIR/$name.log" 2>&1 &
  fake_pids+=("$!")
  wait_for 10 test -s "$E2E_DIR/$name.port"
  fake_url="http://127.0.0.1:$(cat "$E2E_DIR/$name.port")"
  log "fake metabase $name at $fake_url (PID $!)"
}

# provision OUT [ARGS...]: ees metabase provision, stdout+stderr to $E2E_DIR/OUT; returns its status.
provision() {
  local out=$1
  shift
  timeout 60 "$EES_BIN" metabase provision --postgres-url "$pg_url" --wait-s 10 "$@" >"$E2E_DIR/$out" 2>&1
}

state() { curl -fsS "$fake_url/__state"; }

# --------------------------------------------------------------------- 1. new instance, twice
start_fake main --api-key "$api_key"
export EES_METABASE_PASSWORD=$mb_password # the password through the environment, as documented
provision run1.out --url "$fake_url" --user admin@example.com || fail "first run: $(cat "$E2E_DIR/run1.out")"
grep -q 'first admin admin@example.com: set up' "$E2E_DIR/run1.out" || fail "first run did not set up: $(cat "$E2E_DIR/run1.out")"
[[ $(grep -c ': created' "$E2E_DIR/run1.out") == 6 ]] || fail "first run should create 6 items: $(cat "$E2E_DIR/run1.out")"
provision run2.out --url "$fake_url" --user admin@example.com || fail "second run: $(cat "$E2E_DIR/run2.out")"
grep -q ': created' "$E2E_DIR/run2.out" && fail "second run created something: $(cat "$E2E_DIR/run2.out")"
unset EES_METABASE_PASSWORD
state >"$E2E_DIR/state-2.json"
python3 - "$E2E_DIR/state-2.json" <<'PY' || fail "state after two runs is wrong (see $E2E_DIR/state-2.json)"
import json, sys
s = json.load(open(sys.argv[1]))
def check(ok, what):
    if not ok:
        sys.exit(f"  {what}")
check(s["setup_calls"] == 1 and s["users"] == ["admin@example.com"], f"setup once: {s['setup_calls']} calls")
check(len(s["databases"]) == 1, f"one database: {len(s['databases'])}")
db = s["databases"][0]
check(db["name"] == "ees" and db["engine"] == "postgres", f"database: {db['name']} {db['engine']}")
d = db["details"]
check((d["host"], d["port"], d["dbname"], d["user"], d["password"], d["ssl"]) ==
      ("postgres", 5432, "ees", "ees", "pg-s3cret/with@chars", False), f"details: {d}")
check(db["updates"] == 1 and s["syncs"] == 1, f"database updated once, synced once: {db['updates']}, {s['syncs']}")
check(len(s["collections"]) == 1 and s["collections"][0]["location"] == "/", "one top-level collection")
coll = s["collections"][0]["id"]
names = sorted(c["name"] for c in s["cards"])
check(names == ["Anomalies", "Readings per device", "Temperature per device"], f"each card once: {names}")
for c in s["cards"]:
    check(c["updates"] == 1, f"card {c['name']} updated once on the second run: {c['updates']}")
    check(c["collection_id"] == coll, f"card {c['name']} in the collection")
    q = c["dataset_query"]
    check(q["type"] == "native" and q["database"] == db["id"], f"card {c['name']} native on database {db['id']}")
    check(list(q["native"]["template-tags"]) == ["device"], f"card {c['name']} has the device tag")
    check("[[AND device_id = {{device}}]]" in q["native"]["query"], f"card {c['name']} filters optionally by device")
displays = {c["name"]: c["display"] for c in s["cards"]}
check(displays["Temperature per device"] == "line" and displays["Anomalies"] == "table", f"displays: {displays}")
check(len(s["dashboards"]) == 1, f"one dashboard: {len(s['dashboards'])}")
dash = s["dashboards"][0]
check(dash["collection_id"] == coll and dash["updates"] == 2, f"dashboard in the collection, PUT twice: {dash['updates']}")
check([p["id"] for p in dash["parameters"]] == ["ees_device"] and dash["parameters"][0]["type"] == "string/=",
      f"device filter: {dash['parameters']}")
check(sorted(dc["card_id"] for dc in dash["dashcards"]) == sorted(c["id"] for c in s["cards"]), "dashcards = the cards")
check(sorted(dc["id"] for dc in dash["dashcards"]) == [1, 2, 3], "the second run reused the dashcards")
for dc in dash["dashcards"]:
    check(dc["parameter_mappings"] == [{"parameter_id": "ees_device", "card_id": dc["card_id"],
                                        "target": ["variable", ["template-tag", "device"]]}],
          f"dashcard {dc['id']} maps the filter: {dc['parameter_mappings']}")
unauth = [e for e in s["log"] if e["auth"] == "none" and not e["path"].startswith(
    ("/api/health", "/api/session/properties", "/api/setup", "/api/session"))]
check(not unauth, f"calls without an auth header: {unauth}")
PY
log "two runs: setup once, one database, collection, three cards and dashboard; the second run updated"

# --------------------------------------------------------------------- 2. an API key
provision run3.out --url "$fake_url" --api-key "$api_key" || fail "API key run: $(cat "$E2E_DIR/run3.out")"
grep -q 'with an API key: signed in' "$E2E_DIR/run3.out" || fail "API key run: $(cat "$E2E_DIR/run3.out")"
state >"$E2E_DIR/state-3.json"
python3 - "$E2E_DIR/state-3.json" <<'PY' || fail "the API key run duplicated something (see $E2E_DIR/state-3.json)"
import json, sys
s = json.load(open(sys.argv[1]))
counts = (len(s["databases"]), len(s["collections"]), len(s["cards"]), len(s["dashboards"]), s["setup_calls"])
if counts != (1, 1, 3, 1, 1) or any(c["updates"] != 2 for c in s["cards"]):
    sys.exit(f"  databases, collections, cards, dashboards, setups: {counts}")
if not any(e["auth"] == "api-key" and e["path"].startswith("/api/card/") for e in s["log"]):
    sys.exit("  no card update was sent with x-api-key")
PY

# --------------------------------------------------------------------- 3. wrong credentials
rc=0
EES_METABASE_PASSWORD=not-the-password provision wrong-password.out --url "$fake_url" --user admin@example.com || rc=$?
((rc == 1)) || fail "wrong password: exit $rc, expected 1: $(cat "$E2E_DIR/wrong-password.out")"
grep -q "POST $fake_url/api/session: HTTP 401" "$E2E_DIR/wrong-password.out" ||
  fail "wrong password: no line naming the URL and 401: $(cat "$E2E_DIR/wrong-password.out")"
grep -q 'not-the-password' "$E2E_DIR/wrong-password.out" && fail "wrong password: the password was printed"
rc=0
provision wrong-key.out --url "$fake_url" --api-key mb_wrong_key_000 || rc=$?
((rc == 1)) || fail "wrong API key: exit $rc: $(cat "$E2E_DIR/wrong-key.out")"
grep -q "$fake_url/api/user/current: HTTP 401" "$E2E_DIR/wrong-key.out" || fail "wrong API key: $(cat "$E2E_DIR/wrong-key.out")"
grep -q 'mb_wrong_key_000' "$E2E_DIR/wrong-key.out" && fail "wrong API key: the key was printed"
rc=0
provision no-password.out --url "$fake_url" --user admin@example.com || rc=$?
((rc == 2)) || fail "--user without --password: exit $rc, expected 2 (usage)"
log "wrong password / API key: exit 1 with the URL and HTTP 401; missing password: exit 2"

# --------------------------------------------------------------------- 4. new instance, API key only
start_fake fresh --api-key "$api_key"
rc=0
provision fresh-key.out --url "$fake_url" --api-key "$api_key" || rc=$?
if ((rc != 1)) || ! grep -q 'not set up yet: give --user and --password' "$E2E_DIR/fresh-key.out"; then
  fail "new instance with an API key only: exit $rc: $(cat "$E2E_DIR/fresh-key.out")"
fi

# --------------------------------------------------------------------- 5. an instance still starting
start_fake slow --initializing-s 2
EES_METABASE_PASSWORD=$mb_password provision slow.out --url "$fake_url" --user admin@example.com ||
  fail "starting instance: $(cat "$E2E_DIR/slow.out")"
state >"$E2E_DIR/state-slow.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if len(s["cards"]) == 3 and s["setup_calls"] == 1 else 1)' \
  "$E2E_DIR/state-slow.json" ||
  fail "starting instance: not provisioned"
log "waited for a starting instance; refused a new instance without a user"

# --------------------------------------------------------------------- no secret in any output
secrets=("$mb_password" "$pg_password" "$pg_password_encoded" "$api_key")
while IFS= read -r token; do secrets+=("$token"); done < <(
  python3 -c 'import json,sys
for f in sys.argv[1:]:
    print("\n".join(json.load(open(f))["sessions"]))' "$E2E_DIR"/state-*.json
)
outputs=0
for f in "$E2E_DIR"/*.out; do
  outputs=$((outputs + 1))
  for s in "${secrets[@]}"; do
    if grep -qF -- "$s" "$f"; then fail "$(basename "$f") contains a secret (${s:0:4}…)"; fi
  done
done
log "PASS: no password, API key or session token in ${#secrets[@]} values in $outputs outputs"
