#!/usr/bin/env python3
"""Test-only load and verification helpers for the end-to-end scripts (stdlib only).

  eesload.py send --endpoint URL --device ID:KEY [--device …] --requests N --batch B --out FILE
      Sends N requests of B events (at most --rps per second), round-robin over the devices, each event with a unique id and
      a temperature. Retries 5xx/network errors with the SAME body (so retries are deduplicated).
      Writes one JSON line per sent event to FILE ({"device","event_id","raw"}) and, at the end, a
      summary line {"summary":…} with accepted/duplicate counts per stream. Bounded: every request
      has a timeout and at most 50 attempts.
  eesload.py verify --sent FILE [--sent FILE …] --segments-dir DIR --stream K [--stream K …]
      Reads `ees segments cat` output files DIR/<stream>.jsonl and checks: seqs are exactly
      1..N in order, N == events accepted for that stream, every line's event is byte-identical to
      what was sent, and every sent event appears exactly once overall.
"""
import argparse, json, random, sys, time, urllib.request, urllib.error


def post(url, device, key, body, timeout=10):
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json", "x-device-id": device, "x-api-key": key})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read()), r.headers
    except urllib.error.HTTPError as e:
        return e.code, None, e.headers
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None, None, {}


def send(args):
    devices = [d.split(":", 1) for d in args.device]
    url = args.endpoint.rstrip("/") + "/ingest"
    accepted, duplicates, statuses = {}, {}, {}
    stopped_by = None
    rng = random.Random(args.seed)
    with open(args.out, "w") as out:
        started = time.monotonic()
        for i in range(args.requests):
            if args.rps:
                # Pace the requests so the run lasts long enough for failures to happen during it.
                ahead = started + i / args.rps - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            dev, key = devices[i % len(devices)]
            events = []
            for j in range(args.batch):
                eid = f"{args.id_prefix}{dev}-{i}-{j}"
                temp = round(rng.uniform(15, 95), 2)
                raw = json.dumps({"event_id": eid, "event_type": "sensor.temperature", "ts_device_ms": 1_700_000_000_000 + i * 1000 + j,
                                  "payload": {"temperature": temp, "humidity": 40}}, separators=(",", ":"))
                events.append((eid, raw))
            body = ('{"device_id":"%s","batch_id":"b-%d","sent_at_ms":%d,"events":[%s]}'
                    % (dev, i, int(time.time() * 1000), ",".join(r for _, r in events))).encode()
            for attempt in range(50):
                status, reply, headers = post(url, dev, key, body)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if args.until_status and status == args.until_status:
                    stopped_by = i
                    break
                if status == 200:
                    for s in reply["streams"]:
                        accepted[s["stream_key"]] = accepted.get(s["stream_key"], 0) + s["accepted_count"]
                        duplicates[s["stream_key"]] = duplicates.get(s["stream_key"], 0) + s["duplicate_count"]
                    break
                if status is not None and status < 500 and status != 429:
                    sys.exit(f"request {i}: unexpected status {status}")
                time.sleep(min(2.0, 0.05 * (attempt + 1)))
            else:
                sys.exit(f"request {i}: no 200 after 50 attempts")
            if stopped_by is not None:
                break
            for eid, raw in events:
                out.write(json.dumps({"device": dev, "event_id": eid, "raw": raw}) + "\n")
        result = {"accepted": accepted, "duplicates": duplicates, "statuses": statuses, "stopped_at_request": stopped_by}
        out.write(json.dumps({"summary": result}) + "\n")
    print(json.dumps(result))
    if args.until_status and stopped_by is None:
        sys.exit(f"never saw status {args.until_status}")


def verify(args):
    sent, summary = {}, {"accepted": {}}
    for path in args.sent:
        finished = False
        for line in open(path):
            rec = json.loads(line)
            if "summary" in rec:
                finished = True
                for k, v in rec["summary"]["accepted"].items():
                    summary["accepted"][k] = summary["accepted"].get(k, 0) + v
            else:
                sent[rec["event_id"]] = rec["raw"]
        if not finished:
            sys.exit(f"{path} has no summary: the sender did not finish")
    seen = {}
    problems = []
    for stream in args.stream:
        lines = open(f"{args.segments_dir}/{stream}.jsonl", "rb").read().splitlines()
        expected = summary["accepted"].get(stream, 0)
        if len(lines) != expected:
            problems.append(f"{stream}: {len(lines)} lines in segments, {expected} acknowledged")
        for n, line in enumerate(lines, start=1):
            rec = json.loads(line)
            if rec["seq"] != n:
                problems.append(f"{stream}: line {n} has seq {rec['seq']}")
                break
            # The event is nested byte for byte: cut it out of the line rather than re-encoding it.
            start = line.index(b',"event":') + len(b',"event":')
            raw = line[start:-1].decode()
            eid = rec["event"]["event_id"]
            if sent.get(eid) != raw:
                problems.append(f"{stream}: seq {n} event {eid} differs from what was sent")
            seen[eid] = seen.get(eid, 0) + 1
    twice = [e for e, c in seen.items() if c > 1]
    missing = [e for e in sent if e not in seen]
    if twice:
        problems.append(f"{len(twice)} events appear more than once, e.g. {twice[:3]}")
    if missing:
        problems.append(f"{len(missing)} acknowledged events are missing, e.g. {missing[:3]}")
    if problems:
        sys.exit("verify failed:\n  " + "\n  ".join(problems[:20]))
    print(json.dumps({"verified_events": len(seen), "streams": len(args.stream)}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--endpoint", required=True)
    s.add_argument("--device", action="append", required=True)
    s.add_argument("--requests", type=int, required=True)
    s.add_argument("--batch", type=int, default=10)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--id-prefix", default="", help="prefix of every event_id (to tell runs apart)")
    s.add_argument("--until-status", type=int, default=0,
                   help="stop (without retrying) at the first response with this status; fail if none came")
    s.add_argument("--rps", type=float, default=0, help="requests per second at most (0: as fast as possible)")
    s.add_argument("--out", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--sent", action="append", required=True)
    v.add_argument("--segments-dir", required=True)
    v.add_argument("--stream", action="append", required=True)
    a = p.parse_args()
    send(a) if a.cmd == "send" else verify(a)


if __name__ == "__main__":
    main()
