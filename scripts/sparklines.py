#!/usr/bin/env python3
"""Draws one sparkline row per device from `device_id|epoch_ms|temperature` lines on stdin.

Each of WIDTH columns shows the mean of the normal readings (at most the threshold) of its time
slice, on one scale shared by all devices; a `!` under a column marks a slice that holds a reading
above the threshold (an anomaly)."""
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
normal = [v for p in series.values() for _, v in p if v <= THRESHOLD] or [0.0]
lo, hi = min(normal), max(normal)
span = max(t1 - t0, 1.0)
for device in sorted(series):
    sums, counts, hot = [0.0] * WIDTH, [0] * WIDTH, [0] * WIDTH
    for t, v in series[device]:
        i = min(WIDTH - 1, int((t - t0) / span * WIDTH))
        if v > THRESHOLD:
            hot[i] += 1
        else:
            sums[i] += v
            counts[i] += 1
    level = lambda m: BARS[min(len(BARS) - 1, int((m - lo) / max(hi - lo, 1e-9) * len(BARS)))]
    bars = "".join(level(sums[i] / counts[i]) if counts[i] else " " for i in range(WIDTH))
    marks = "".join("!" if hot[i] else " " for i in range(WIDTH))
    print(f"  {device:>16} {bars}  {len(series[device])} readings, {sum(hot)} anomalies")
    print(f"  {'':>16} {marks}")
print(f"  {'':>16} scale of normal readings: {lo:.1f} … {hi:.1f} °C; anomalies: > {THRESHOLD:.0f} °C")
