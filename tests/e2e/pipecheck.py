#!/usr/bin/env python3
"""Checks the whole pipeline against `ees simulate --report-json` reports (stdlib + psql).

  pipecheck.py --report FILE [--report FILE …] --segments-dir DIR --postgres URL

For every device of the reports (stream key = device id):
  - DIR/<device>.jsonl (`ees segments cat` output) holds seqs 1..N in order, once each, with
    N = the events the reports say were accepted (accepted counts new events only, so a resend
    that was deduplicated does not count twice) and every event_id once;
  - Postgres has exactly N temperature rows for the device, one per seq;
  - the anomalies in Postgres are exactly the report's readings above 80 °C (as a multiset of
    (device, event_id) — matched through the segment line that carries the event).
Prints one summary line; exits 1 with the problems found.
"""
import argparse, json, subprocess, sys
from collections import Counter


def psql(url, sql):
    out = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return [line.split("|") for line in out.splitlines() if line]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", action="append", required=True)
    ap.add_argument("--segments-dir", required=True)
    ap.add_argument("--postgres", required=True)
    a = ap.parse_args()
    accepted, anomalies = Counter(), Counter()
    for path in a.report:
        r = json.load(open(path))
        for device, counts in r["per_device"].items():
            accepted[device] += counts["accepted"]
        if r.get("anomalies_truncated"):
            sys.exit(f"{path}: anomaly list truncated")
        for an in r["anomalies"]:
            anomalies[(an["device_id"], an["event_id"])] += 1
    problems, total = [], 0
    devices = sorted(accepted)
    for device in devices:
        n = accepted[device]
        total += n
        seq_of_event = {}
        lines = open(f"{a.segments_dir}/{device}.jsonl", "rb").read().splitlines()
        seqs = [json.loads(line)["seq"] for line in lines]
        if seqs != list(range(1, n + 1)):
            problems.append(f"{device}: segment seqs are not exactly 1..{n} (found {len(seqs)} lines)")
        for line in lines:
            rec = json.loads(line)
            eid = rec["event"]["event_id"]
            if eid in seq_of_event:
                problems.append(f"{device}: event {eid} appears twice in the segments")
            seq_of_event[eid] = rec["seq"]
        rows = psql(a.postgres, f"SELECT count(*), count(DISTINCT seq) FROM temperature_readings WHERE device_id = '{device}'")
        if rows != [[str(n), str(n)]]:
            problems.append(f"{device}: Postgres has {rows[0][0]} temperature rows ({rows[0][1]} seqs), expected {n}")
        expected = sorted(seq_of_event.get(eid, -1) for (d, eid), c in anomalies.items() for _ in range(c) if d == device)
        got = sorted(int(r[0]) for r in psql(a.postgres, f"SELECT seq FROM anomaly_events WHERE device_id = '{device}' AND metric = 'temperature'"))
        if got != expected:
            problems.append(f"{device}: anomalies at seqs {got[:10]}…, expected {expected[:10]}… ({len(got)} vs {len(expected)})")
    if problems:
        print("pipecheck: FAIL:\n  " + "\n  ".join(problems[:20]), file=sys.stderr)
        sys.exit(1)
    print(f"pipecheck: {len(devices)} devices, {total} events once each in S3 and Postgres, "
          f"{sum(anomalies.values())} anomalies exactly")


if __name__ == "__main__":
    main()
