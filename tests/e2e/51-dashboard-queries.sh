#!/usr/bin/env bash
# The Metabase cards' SQL (Sources/EESCore/Dashboards/DashboardQueries.swift) against the real
# Postgres, with data the pipeline produced: a node running ingest, flusher and processor on a
# database of its own, `ees simulate` sending 4 devices' readings with known anomalies
# (--report-json lists every reading above 80 °C), then each card's SQL as `ees metabase queries`
# renders it — without the device filter (optional clause dropped) and with it ({{device}}
# replaced) — checked against the report:
#   temperature: one series per device, readings per device = accepted events, the maximum per
#                device = its highest anomaly (or <= 80 without one), newest minute first;
#   anomalies:   exactly the report's anomalies (device, value), threshold detector, newest first;
#   readings:    readings and anomalies per device as in the report;
#   a quote in the device value is a literal, not SQL (no rows).
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

tag="e2e51$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')" # Redis prefix, database and device names
db=$tag
pg_url="${EES_TEST_POSTGRES_URL%/*}/$db"
objects="$E2E_DIR/objects"
common=(--redis "$EES_TEST_REDIS_URL" --redis-prefix "$tag")
devices=4
events=4000

cleanup() {
  local rc=$?
  stop_all_ees
  psql_ees -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  redis_cli --scan --pattern "$tag:*" | xargs -r -n 100 redis-cli -u "$EES_TEST_REDIS_URL" DEL >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT

scalar() { psql -X -q -tA -v ON_ERROR_STOP=1 "$pg_url" -c "$1"; }

# card KEY OUT [DEVICE]: the card's SQL as Metabase would run it, via psql, as CSV with a header.
card() {
  local key=$1 out=$2 sql
  if (($# > 2)); then sql=$("$EES_BIN" metabase queries --card "$key" --device "$3"); else
    sql=$("$EES_BIN" metabase queries --card "$key")
  fi
  psql -X -q --csv -v ON_ERROR_STOP=1 "$pg_url" -c "$sql" >"$E2E_DIR/$out.csv" || fail "card $key: psql failed"
}

# ---------------------------------------------------------------------------- the pipeline
psql_ees -c "CREATE DATABASE $db" >/dev/null
"$EES_BIN" migrate --postgres "$pg_url" >/dev/null
mkdir -p "$objects"
port=$(http_port)
start_ees node serve --roles ingest,flusher,processor --listen "127.0.0.1:$port" --flush-age-ms 200 \
  --object-store "file://$objects" --postgres "$pg_url" --node-id "$tag-node" "${common[@]}"
wait_for 20 curl -fsS "http://127.0.0.1:$port/readyz"

"$EES_BIN" simulate --endpoint "http://127.0.0.1:$port" --device-id "$tag-dev" --devices "$devices" --provision \
  --count "$events" --anomaly-rate 0.03 --rate 0 --seed 51 --quiet --report-json "$E2E_DIR/report.json" \
  "${common[@]}" >"$E2E_DIR/simulate.out" 2>&1 || fail "simulate failed: $(tail -5 "$E2E_DIR/simulate.out")"
read -r accepted anomalies < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
assert not r["anomalies_truncated"]
print(r["events_accepted"], len(r["anomalies"]))' "$E2E_DIR/report.json")
((accepted == events && anomalies > 0)) || fail "simulate: $accepted of $events accepted, $anomalies anomalies"
processed() {
  [[ $(scalar "SELECT count(*) FROM temperature_readings") == "$accepted" &&
    $(scalar "SELECT count(*) FROM anomalies") == "$anomalies" ]]
}
wait_for 60 processed
log "pipeline: $accepted readings of $devices devices and $anomalies anomalies in Postgres"

# ---------------------------------------------------------------------------- the cards
dev=$tag-dev-2
for key in temperature anomalies readings; do
  card "$key" "$key-all"
  card "$key" "$key-one" "$dev"
  card "$key" "$key-quote" "$dev' OR 'a'='a"
done

python3 - "$E2E_DIR" "$dev" <<'PY' || fail "card results differ from the simulator's report (see $E2E_DIR/*.csv)"
import collections, csv, json, sys
out, dev = sys.argv[1], sys.argv[2]
report = json.load(open(f"{out}/report.json"))
accepted = {d: c["accepted"] for d, c in report["per_device"].items()}
expected = collections.Counter((a["device_id"], round(float(a["temperature"]), 2)) for a in report["anomalies"])
per_device_anomalies = collections.Counter(a["device_id"] for a in report["anomalies"])
errors = []
def check(ok, what):
    if not ok:
        errors.append(what)
def rows(name):
    with open(f"{out}/{name}.csv") as f:
        return list(csv.DictReader(f))

for suffix, devices in (("all", sorted(accepted)), ("one", [dev])):
    # temperature: per device and minute, newest first
    t = rows(f"temperature-{suffix}")
    check(sorted({r["device_id"] for r in t}) == devices, f"temperature-{suffix}: devices {sorted({r['device_id'] for r in t})}")
    minutes = [r["minute"] for r in t]
    check(minutes == sorted(minutes, reverse=True), f"temperature-{suffix}: not newest minute first")
    for d in devices:
        mine = [r for r in t if r["device_id"] == d]
        check(sum(int(r["readings"]) for r in mine) == accepted[d],
              f"temperature-{suffix}: {d} has {sum(int(r['readings']) for r in mine)} readings, expected {accepted[d]}")
        top = max(float(r["max_temperature_c"]) for r in mine)
        hot = [v for (dd, v) in expected if dd == d]
        check(round(top, 2) == max(hot) if hot else top <= 80.0, f"temperature-{suffix}: {d} max {top}, anomalies {sorted(hot)[-3:]}")
        check(all(float(r["avg_temperature_c"]) <= float(r["max_temperature_c"]) for r in mine), f"temperature-{suffix}: avg > max")
    # anomalies: exactly the report's, newest first
    a = rows(f"anomalies-{suffix}")
    got = collections.Counter((r["device"], round(float(r["value"]), 2)) for r in a)
    want = collections.Counter({k: n for k, n in expected.items() if k[0] in devices})
    check(got == want, f"anomalies-{suffix}: {sum(got.values())} rows, expected {sum(want.values())}; "
                       f"missing {list((want - got).items())[:3]}, extra {list((got - want).items())[:3]}")
    check(all(r["algorithm"] == "threshold" and float(r["threshold"]) == 80.0 and r["metric"] == "temperature"
              and r["severity"] in ("warning", "critical") for r in a), f"anomalies-{suffix}: unexpected detector columns")
    times = [r["time"] for r in a]
    check(times == sorted(times, reverse=True), f"anomalies-{suffix}: not newest first")
    # readings per device
    p = rows(f"readings-{suffix}")
    check([r["device"] for r in p] == devices, f"readings-{suffix}: devices {[r['device'] for r in p]}")
    for r in p:
        check(int(r["readings"]) == accepted[r["device"]] and int(r["anomalies"]) == per_device_anomalies[r["device"]],
              f"readings-{suffix}: {r}")

for key in ("temperature", "anomalies", "readings"):
    check(rows(f"{key}-quote") == [], f"{key}: a quote in the device value matched rows")
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
PY
log "PASS: 3 cards x (all devices, one device, a quoted value) match the report ($anomalies anomalies)"
