#!/usr/bin/env python3
"""Checks an `ees simulate --report-json` report against the Redis buffers (stdlib + redis-cli).

  simcheck.py --report FILE --prefix P [--exact]

For every device in the report: the stream buffer `<P>:s:{<device>}:buf` (stream key = device id)
has entries whose first seqs run 1, 1+n1, … without a gap up to the stream's seq counter; its events
are exactly the device's ids <tag>-1 … <tag>-<sent>, each once; the events above 80.0 °C are exactly
the report's anomaly list. Then: report accepted + duplicates == sent == events buffered, and with
--exact also accepted == buffered (no duplicates: nothing was resent). Prints one summary line;
exits 1 with the first problem found.
"""
import argparse, json, os, subprocess, sys


def redis(*args, as_json=True):
    url = os.environ["EES_TEST_REDIS_URL"].removeprefix("redis://").split("/")[0]
    host, port = url.rsplit(":", 1)
    cmd = ["redis-cli", "-h", host, "-p", port] + (["--json", "-2"] if as_json else []) + list(args)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout
    return json.loads(out) if as_json else out.strip()


def fail(msg):
    print(f"simcheck: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check_device(prefix, device, tally):
    entries = redis("XRANGE", f"{prefix}:s:{{{device}}}:buf", "-", "+")
    expected_first, ids, hot = 1, set(), set()
    for entry_id, fields in entries:
        f = dict(zip(fields[::2], fields[1::2]))
        first, n = int(entry_id.split("-")[0]), int(f["n"])
        if first != expected_first:
            fail(f"{device}: seq gap: entry starts at {first}, expected {expected_first}")
        lines = f["ev"].split("\n")
        if len(lines) != n:
            fail(f"{device}: entry {entry_id} says n={n} but holds {len(lines)} events")
        for line in lines:
            ev = json.loads(line)
            if ev["event_id"] in ids:
                fail(f"{device}: event {ev['event_id']} stored twice")
            ids.add(ev["event_id"])
            t = ev["payload"]["temperature"]
            if t > 80.0:
                hot.add((device, ev["event_id"], t))
        expected_first = first + n
    buffered = expected_first - 1
    seq = int(redis("GET", f"{prefix}:s:{{{device}}}:seq", as_json=False) or 0)
    if seq != buffered:
        fail(f"{device}: seq counter {seq} but buffers end at {buffered}")
    if buffered != tally["sent"]:
        fail(f"{device}: {buffered} events buffered, {tally['sent']} sent")
    tags = {i.rsplit("-", 1)[0] for i in ids}
    if len(tags) != 1 or {int(i.rsplit("-", 1)[1]) for i in ids} != set(range(1, tally["sent"] + 1)):
        fail(f"{device}: buffered ids are not exactly <tag>-1..<tag>-{tally['sent']}")
    return buffered, hot


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--exact", action="store_true")
    a = ap.parse_args()
    report = json.load(open(a.report))
    if not report["succeeded"] or report["batches_failed"] or report["events_failed"]:
        fail(f"the simulator reports failures: {report['errors']}")
    total, hot = 0, set()
    for device, tally in report["per_device"].items():
        n, h = check_device(a.prefix, device, tally)
        total += n
        hot |= h
    sent, acc, dup = report["events_sent"], report["events_accepted"], report["events_duplicate"]
    if not (acc + dup == sent == total):
        fail(f"accepted {acc} + duplicates {dup} != sent {sent} / buffered {total}")
    if a.exact and not (acc == total and dup == 0):
        fail(f"accepted {acc} != buffered {total} (duplicates {dup})")
    listed = {(x["device_id"], x["event_id"], x["temperature"]) for x in report["anomalies"]}
    if report["anomalies_truncated"] or listed != hot or len(hot) != report["anomalies_generated"]:
        fail(f"anomalies: report lists {len(listed)} (generated {report['anomalies_generated']}), buffers hold {len(hot)} above 80")
    print(f"simcheck: ok: {len(report['per_device'])} devices, {total} events buffered once each, "
          f"accepted {acc}, duplicates {dup}, anomalies {len(hot)}, errors {report['errors']}")


if __name__ == "__main__":
    main()
