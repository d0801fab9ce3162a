#!/usr/bin/env python3
"""Draws one sparkline row per device from `device_id|epoch_ms|temperature` lines on stdin.

Each of WIDTH columns shows the hottest reading of its time slice on one shared scale; a `!`
under a column marks a slice with a reading above the threshold (an anomaly)."""
import sys

WIDTH, THRESHOLD, BARS = 60, 80.0, "▁▂▃▄▅▆▇█"
series = {}
for line in sys.stdin:
    parts = line.strip().split("|")
    if len(parts) == 3:
        series.setdefault(parts[0], []).append((float(parts[1]), float(parts[2])))
if not series:
    sys.exit("no readings")
t0 = min(p[0][0] for p in series.values())
t1 = max(p[-1][0] for p in series.values())
lo = min(v for p in series.values() for _, v in p)
hi = max(v for p in series.values() for _, v in p)
span = max(t1 - t0, 1.0)
for device in sorted(series):
    cols = [None] * WIDTH
    for t, v in series[device]:
        i = min(WIDTH - 1, int((t - t0) / span * WIDTH))
        cols[i] = v if cols[i] is None else max(cols[i], v)
    bars = "".join(" " if v is None else BARS[min(len(BARS) - 1, int((v - lo) / max(hi - lo, 1e-9) * len(BARS)))] for v in cols)
    marks = "".join("!" if v is not None and v > THRESHOLD else " " for v in cols)
    readings = len(series[device])
    print(f"  {device:>16} {bars}  {readings} readings, max {max(v for _, v in series[device]):.1f} °C")
    print(f"  {'':>16} {marks}")
print(f"  {'':>16} scale {lo:.1f} … {hi:.1f} °C")
