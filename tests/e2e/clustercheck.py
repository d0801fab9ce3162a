#!/usr/bin/env python3
"""End state of a cluster run (tests/e2e/40-cluster-haproxy.sh) against `ees simulate`'s report.

  clustercheck.py --report FILE --prefix P --ees BIN --segments-dir DIR

Needs EES_TEST_REDIS_URL, EES_TEST_POSTGRES_URL and the object-store environment of `ees segments`
(EES_OBJECT_STORE, AWS_*). Stream key = device id for every simulated device. Checks:
  S3        for every device: `ees segments cat` holds seqs 1..N exactly once and in order, N = the
            report's accepted count for that device; the event ids are exactly the ids the device
            sent (<tag>-1..<tag>-sent: every acknowledged event, retried or not, is there once);
            every line's envelope names the device; the objects under the stream's prefix are
            exactly the segment index (no orphan left by a crashed flusher).
  Postgres  device_metrics has one temperature row per (stream, seq) 1..N with the segment's
            value; anomaly_events (threshold, temperature) is exactly the events above 80.0, which
            are exactly the report's anomaly list; processed_segments covers the index, rows = N.
  Report    accepted + duplicates == sent, nothing failed; Redis DLQ empty.
Prints the counts as one summary line; exits 1 with every problem found.
"""
import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict

problems = []


def problem(msg):
    problems.append(msg)
    print(f"clustercheck: FAIL: {msg}", file=sys.stderr)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120, **kw).stdout


def redis(*args):
    url = os.environ["EES_TEST_REDIS_URL"].removeprefix("redis://").split("/")[0]
    host, port = url.rsplit(":", 1)
    return run(["redis-cli", "-h", host, "-p", port, "--raw"] + list(args)).strip()


def psql(sql):
    out = run(["psql", "-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", os.environ["EES_TEST_POSTGRES_URL"], "-c", sql])
    return [line.split("\t") for line in out.splitlines() if line]


def check_segments(ees, prefix, device, tally, seg_dir):
    """Returns ({seq: (event_id, temperature)}, segment count) of the device's stream."""
    text = run([ees, "segments", "cat", "--stream", device])
    with open(os.path.join(seg_dir, f"{device}.jsonl"), "w") as f:
        f.write(text)
    events, ids = {}, set()
    expected = 1
    for line in text.splitlines():
        rec = json.loads(line)
        seq, ev = rec["seq"], rec["event"]
        if seq != expected:
            problem(f"{device}: segment line with seq {seq}, expected {expected} (gap or repeat)")
        expected = seq + 1
        if rec["stream_key"] != device or rec["device_id"] != device:
            problem(f"{device}: seq {seq} has stream {rec['stream_key']} / device {rec['device_id']}")
        if ev["event_id"] in ids:
            problem(f"{device}: event {ev['event_id']} is in the log twice (seq {seq})")
        ids.add(ev["event_id"])
        events[seq] = (ev["event_id"], ev["payload"]["temperature"])
    n = len(events)
    if n != tally["accepted"]:
        problem(f"{device}: {n} events in S3, the simulator saw {tally['accepted']} accepted")
    want = {i for i in range(1, tally["sent"] + 1)}
    got = {int(i.rsplit("-", 1)[1]) for i in ids}
    if len({i.rsplit("-", 1)[0] for i in ids}) > 1 or got != want:
        problem(f"{device}: S3 ids are not exactly <tag>-1..<tag>-{tally['sent']} "
                f"(missing {sorted(want - got)[:5]}, extra {sorted(got - want)[:5]})")
    # Orphans: every object under the stream's prefix is in the committed index.
    listed = run([ees, "segments", "ls", "--stream", device]).splitlines()[1:]
    objects = sorted(line.split("\t")[0] for line in listed if line)
    index = sorted(redis("ZRANGE", f"{prefix}:s:{{{device}}}:segs", "0", "-1").split())
    if objects != index:
        problem(f"{device}: objects under the stream ({len(objects)}) differ from the index ({len(index)})")
    return events, len(index)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--ees", required=True)
    ap.add_argument("--segments-dir", required=True)
    a = ap.parse_args()
    report = json.load(open(a.report))
    devices = sorted(report["per_device"])
    os.makedirs(a.segments_dir, exist_ok=True)

    sent, acc, dup = report["events_sent"], report["events_accepted"], report["events_duplicate"]
    if not report["succeeded"] or report["events_failed"] or report["batches_failed"]:
        problem(f"the simulator reports failures: {report['events_failed']} events, errors {report['errors']}")
    if acc + dup != sent:
        problem(f"report: accepted {acc} + duplicates {dup} != sent {sent}")

    # ------------------------------------------------------------------------------------ S3
    s3 = {}
    segments = 0
    for d in devices:
        events, nseg = check_segments(a.ees, a.prefix, d, report["per_device"][d], a.segments_dir)
        s3[d] = events
        segments += nseg
    s3_lines = sum(len(e) for e in s3.values())
    hot = {(d, seq) for d, ev in s3.items() for seq, (_, t) in ev.items() if t > 80.0}
    by_id = {(d, eid): seq for d, ev in s3.items() for seq, (eid, _) in ev.items()}
    listed = set()
    for x in report["anomalies"]:
        seq = by_id.get((x["device_id"], x["event_id"]))
        if seq is None:
            problem(f"anomaly {x['device_id']}/{x['event_id']} from the report is not in S3")
        else:
            listed.add((x["device_id"], seq))
    if report["anomalies_truncated"] or listed != hot or len(hot) != report["anomalies_generated"]:
        problem(f"anomalies: report lists {len(listed)} (generated {report['anomalies_generated']}), S3 holds {len(hot)} above 80")

    # ------------------------------------------------------------------------------ Postgres
    like = f"{a.prefix}-%"
    pg = defaultdict(dict)
    rows = psql(f"SELECT device_id, seq, value FROM device_metrics WHERE metric = 'temperature' AND device_id LIKE '{like}'")
    for dev, seq, value in rows:
        if int(seq) in pg[dev]:
            problem(f"postgres: {dev} seq {seq} twice")
        pg[dev][int(seq)] = float(value)
    for d in devices:
        want = {seq: t for seq, (_, t) in s3[d].items()}
        if pg.get(d, {}) != want:
            missing = sorted(set(want) - set(pg.get(d, {})))
            extra = sorted(set(pg.get(d, {})) - set(want))
            wrong = sorted(s for s in set(want) & set(pg.get(d, {})) if abs(want[s] - pg[d][s]) > 1e-9)
            problem(f"postgres: {d} temperature rows differ from S3 (missing {missing[:5]}, extra {extra[:5]}, values {wrong[:5]})")
    anomalies = psql(f"SELECT device_id, seq FROM anomaly_events WHERE algorithm = 'threshold' AND metric = 'temperature' "
                     f"AND device_id LIKE '{like}'")
    pg_hot = [(d, int(s)) for d, s in anomalies]
    if len(pg_hot) != len(set(pg_hot)) or set(pg_hot) != hot:
        problem(f"postgres: {len(pg_hot)} anomaly rows ({len(set(pg_hot))} distinct), expected exactly the {len(hot)} events above 80")
    other = psql(f"SELECT count(*) FROM anomaly_events WHERE device_id LIKE '{like}' AND NOT (algorithm = 'threshold' AND metric = 'temperature')")
    processed = psql(f"SELECT count(*), coalesce(sum(rows), 0) FROM processed_segments WHERE stream_key LIKE '{like}'")[0]
    if int(processed[0]) != segments or int(processed[1]) != s3_lines:
        problem(f"postgres: processed_segments has {processed[0]} segments / {processed[1]} rows, the index {segments} / S3 {s3_lines}")
    dlq = int(redis("XLEN", f"{a.prefix}:dlq:segments") or 0)
    if dlq:
        problem(f"{dlq} dead letters: {redis('XRANGE', f'{a.prefix}:dlq:segments', '-', '+', 'COUNT', '3')}")

    pg_rows = sum(len(v) for v in pg.values())
    print(f"clustercheck: {len(devices)} devices | simulator: sent {sent}, accepted {acc}, duplicates {dup}, "
          f"failed attempts {sum(report['errors'].values())} {report['errors']} | S3: {s3_lines} events once each in "
          f"{segments} segments | Postgres: {pg_rows} temperature rows, {len(pg_hot)} anomalies "
          f"(report {len(report['anomalies'])}; other algorithms {other[0][0]}), {processed[0]} processed segments | DLQ {dlq}")
    if problems:
        print(f"clustercheck: {len(problems)} problem(s)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
