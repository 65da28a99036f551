#!/usr/bin/env python3
"""opsgen.py: a seeded generator of operational metric series with labelled
anomalies, written in the Numenta Anomaly Benchmark's layout so that
`umbra analyze --nab DIR` (and NAB's own scorer) score it:

    DIR/data/<type>/<type>-<kind>-<i>.csv     timestamp,value
    DIR/labels/combined_windows.json          {"<type>/<file>.csv": [[s, e], ...]}

It is deliberately not NAB-shaped: every series is three weeks at 5-minute
sampling (6048 points, from Monday 2026-01-05 00:00) with daily and weekly
cycles, and the anomalies are the ones a shadowing tool must see.

Series types (the category):
  cpu       percent busy: 30 + 15 x the daily cycle, weekends at 60 %,
            Gaussian noise (sd 2), clipped to 0..100
  requests  counts per 5 minutes: Poisson around 200 x (1 + 0.7 x cycle),
            weekends at half
  latency   milliseconds: 120 x (1 + 0.3 x load) x log-normal (sigma 0.25),
            one point in twenty from a Pareto tail (alpha 2.5)
  memory    percent used: a sawtooth, +0.05 per point from 40 until a
            collection (every 500 to 700 points) drops it back, plus 2 x
            the daily cycle (small beside the sawtooth's 25 to 35) and
            noise (sd 0.3)
  queue     small counts: Poisson around 3 x (1 + 0.8 x cycle), weekends at
            half (many repeated values)

Anomaly kinds (the file name's middle part), two per file, each starting at
a random point after day 8 and at least three days apart:
  spike         1 to 3 points at +8 noise sd (latency: x 6)
  dip           30 minutes to 2 hours at 20 to 50 % of normal
  level_shift   12 to 24 hours moved by 3 noise sd + 40 % of the cycle's
                amplitude
  variance      6 to 12 hours with 4 times the noise
  ramp          6 to 12 hours rising linearly to + the cycle's amplitude,
                then back
  flatline      2 to 6 hours stuck at the last value (an exporter that
                repeats its last sample)
  season_lost   one day (midnight to midnight) without the daily cycle
  season_shift  one day with the daily cycle 6 hours late
  noise_shape   12 hours whose noise has the same sd but another shape
                (two-valued, +-sd, instead of bell-shaped)
  none          no anomaly (false positives only)

Label windows follow NAB's sizing: 10 % of the file's length over the
number of anomalies (302 points, about 25 hours); because no causal
detector can see an anomaly before it starts, a window begins a tenth of
its width before the onset (NAB centres it on the onset).

Usage: opsgen.py DIR [--seed N] [--copies N]. Same seed, same files.
Standard library only.
"""
import argparse
import datetime
import json
import math
import os
import random

STEP_S = 300              # 5-minute sampling
POINTS = 3 * 7 * 288      # three weeks
DAY = 288                 # points per day
START = datetime.datetime(2026, 1, 5)  # a Monday
FIRST_ANOMALY_DAY = 8     # a week and a day of history before any anomaly
MIN_GAP = 3 * DAY         # anomalies of one file are this far apart
PER_FILE = 2              # anomalies per file

TYPES = ["cpu", "requests", "latency", "memory", "queue"]
KINDS = ["spike", "dip", "level_shift", "variance", "ramp", "flatline",
         "season_lost", "season_shift", "noise_shape", "none"]


def cycle(i, shift=0):
    """The daily cycle in [-1, 1], peaking at 14:00."""
    h = ((i - shift) % DAY) / DAY * 24.0
    return math.sin(2 * math.pi * (h - 8.0) / 24.0)


def weekend(i):
    return (i // DAY) % 7 >= 5


def poisson(rng, lam):
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    lim, k, p = math.exp(-lam), 0, rng.random()
    while p > lim:
        k += 1
        p *= rng.random()
    return k


class Series:
    """One type's clean generator: expected value, noise sd, sample."""

    def __init__(self, kind, rng):
        self.kind, self.rng = kind, rng
        self.saw, self.saw_len = 40.0, rng.randint(500, 700)

    def amplitude(self):
        return {"cpu": 15, "requests": 140, "latency": 36, "memory": 2,
                "queue": 2.4}[self.kind]

    def sd(self):
        return {"cpu": 2, "requests": 12, "latency": 30, "memory": 0.3,
                "queue": 1.7}[self.kind]

    def mean(self, i, shift, flat):
        c = 0.0 if flat else cycle(i, shift)
        w = weekend(i)
        if self.kind == "cpu":
            return (30 + 15 * c) * (0.6 if w else 1)
        if self.kind == "requests":
            return 200 * (1 + 0.7 * c) * (0.5 if w else 1)
        if self.kind == "latency":
            return 120 * (1 + 0.3 * c * (0.5 if w else 1))
        if self.kind == "memory":
            return self.saw + 2 * c
        return 3 * (1 + 0.8 * c) * (0.5 if w else 1)

    def step(self):
        """Advances the memory sawtooth by one point."""
        self.saw += 0.05
        self.saw_len -= 1
        if self.saw_len <= 0:
            self.saw, self.saw_len = 40.0, self.rng.randint(500, 700)

    def sample(self, m, noise_mult, twovalued):
        r = self.rng
        if self.kind in ("requests", "queue"):
            if noise_mult != 1 or twovalued:
                sd = math.sqrt(max(m, 1)) * noise_mult
                e = (sd if r.random() < 0.5 else -sd) if twovalued \
                    else r.gauss(0, sd)
                return max(0, round(m + e))
            return poisson(r, max(m, 0))
        if self.kind == "latency":
            if twovalued:
                f = math.exp(0.25 if r.random() < 0.5 else -0.25)
            else:
                f = math.exp(r.gauss(0, 0.25 * noise_mult))
                if r.random() < 0.05:
                    f *= r.paretovariate(2.5)
            return round(m * f, 3)
        sd = self.sd() * noise_mult
        e = (sd if r.random() < 0.5 else -sd) if twovalued else r.gauss(0, sd)
        v = m + e
        if self.kind == "cpu":
            v = min(100.0, max(0.0, v))
        return round(v, 3)


def plan(rng, kind):
    """Onsets and lengths of a file's anomalies."""
    if kind == "none":
        return []
    out = []
    while len(out) < PER_FILE:
        if kind in ("season_lost", "season_shift"):
            day = rng.randint(FIRST_ANOMALY_DAY, POINTS // DAY - 1)
            onset, length = day * DAY, DAY
        else:
            length = {"spike": rng.randint(1, 3),
                      "dip": rng.randint(6, 24),
                      "level_shift": rng.randint(144, 288),
                      "variance": rng.randint(72, 144),
                      "ramp": rng.randint(72, 144),
                      "flatline": rng.randint(24, 72),
                      "noise_shape": 144}[kind]
            onset = rng.randint(FIRST_ANOMALY_DAY * DAY, POINTS - length - 1)
        if all(abs(onset - o) >= MIN_GAP for o, _ in out):
            out.append((onset, length))
    return sorted(out)


def generate(typ, kind, rng):
    s = Series(typ, rng)
    anomalies = plan(rng, kind)
    vals = []
    for i in range(POINTS):
        act = [(o, n) for o, n in anomalies if o <= i < o + n]
        o, n = act[0] if act else (None, None)
        shift = DAY // 4 if (act and kind == "season_shift") else 0
        flat = bool(act) and kind == "season_lost"
        m = s.mean(i, shift, flat)
        noise_mult, twovalued = 1.0, False
        if act:
            amp, sd = s.amplitude(), s.sd()
            if kind == "level_shift":
                m += 3 * sd + 0.4 * amp
            elif kind == "ramp":
                half = n / 2
                m += amp * (1 - abs(i - o - half) / half)
            elif kind == "variance":
                noise_mult = 4.0
            elif kind == "noise_shape":
                twovalued = True
            elif kind == "dip":
                m *= 0.2 + 0.3 * ((o * 7919) % 100) / 100
        v = s.sample(m, noise_mult, twovalued)
        if act and kind == "spike":
            v = round(v * 6, 3) if typ == "latency" else \
                round(v + 8 * s.sd(), 3)
        if act and kind == "flatline":
            v = vals[o - 1]
        vals.append(v)
        s.step()
    return vals, anomalies


def stamp(i):
    return (START + datetime.timedelta(seconds=i * STEP_S)).strftime(
        "%Y-%m-%d %H:%M:%S")


def windows(anomalies):
    if not anomalies:
        return []
    width = int(0.1 * POINTS / len(anomalies))
    out = []
    for onset, _ in anomalies:
        a = max(0, onset - width // 10)
        b = min(POINTS - 1, a + width - 1)
        out.append([stamp(a) + ".000000", stamp(b) + ".000000"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=27)
    ap.add_argument("--copies", type=int, default=2,
                    help="files per type and kind (default 2)")
    a = ap.parse_args()
    labels = {}
    for typ in TYPES:
        os.makedirs(os.path.join(a.dir, "data", typ), exist_ok=True)
        for kind in KINDS:
            for c in range(a.copies):
                # One generator per file, seeded from the file's name, so
                # a file does not change when others are added.
                name = "%s-%s-%d" % (typ, kind, c)
                rng = random.Random("%d/%s" % (a.seed, name))
                vals, anomalies = generate(typ, kind, rng)
                rel = "%s/%s.csv" % (typ, name)
                with open(os.path.join(a.dir, "data", rel), "w") as f:
                    f.write("timestamp,value\n")
                    for i, v in enumerate(vals):
                        f.write("%s,%r\n" % (stamp(i), v))
                labels[rel] = windows(anomalies)
    os.makedirs(os.path.join(a.dir, "labels"), exist_ok=True)
    with open(os.path.join(a.dir, "labels", "combined_windows.json"),
              "w") as f:
        json.dump(labels, f, indent=4, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
