"""`umbra analyze`: offline analysis of production and shadow metric files
written by the test, with known truth: a step in CPU per request, a slow
memory leak, one slow endpoint, a deploy, a nightly job; both file layouts
and timestamp forms; the output formats; and malformed input reported as
FILE:LINE:COL with exit status 2."""
import json
import math
import random

from lib import TestCase, run

T0 = 1767225600  # 2026-01-01T00:00:00Z
ENDPOINTS = [("/api/users", 0.4, 0.005), ("/api/orders", 0.3, 0.008),
             ("/api/search", 0.2, 0.012), ("/static", 0.1, 0.020)]


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(
        t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def simulate(n, mod=None, seed=1):
    """Rows of (t, {series: value}) for production and shadow. mod(k,
    side) returns changes: cost, mem, slow (endpoint index -> factor),
    cpu_add."""
    rnd = random.Random(seed)
    rows = ([], [])
    for k in range(n):
        rps = 200 * (1 + rnd.gauss(0, 0.02))
        for side in (0, 1):
            m = mod(k, side) if mod else {}
            r = rps * (1 + rnd.gauss(0, 0.02))
            cost = 0.002 * m.get("cost", 1)
            v = {"rps": r,
                 "cpu": (r * cost + m.get("cpu_add", 0))
                 * (1 + rnd.gauss(0, 0.02)),
                 "memory": 3e8 * m.get("mem", 1) * (1 + rnd.gauss(0, 0.003))}
            mean = 0
            for i, (name, share, lat) in enumerate(ENDPOINTS):
                lat = lat * m.get("slow", {}).get(i, 1) \
                    * (1 + rnd.gauss(0, 0.03))
                mean += share * lat
                v["latency:" + name] = lat
                v["requests:" + name] = r * share
            v["latency_p50"] = mean * 0.8 * (1 + rnd.gauss(0, 0.02))
            v["latency_p99"] = mean * 4 * (1 + rnd.gauss(0, 0.05))
            rows[side].append((T0 + k, v))
    return rows


def wide(rows, cols, ts=str):
    out = ["timestamp," + ",".join(cols)]
    for t, v in rows:
        out.append(ts(t) + "," + ",".join("%.9g" % v[c] for c in cols))
    return "\n".join(out) + "\n"


def long(rows, cols, ts=str):
    out = ["timestamp,metric,value"]
    for t, v in rows:
        for c in cols:
            out.append("%s,%s,%.9g" % (ts(t), c, v[c]))
    return "\n".join(out) + "\n"


BASIC = ["rps", "cpu", "memory", "latency_p50", "latency_p99"]


def step(k, side):
    return {"cost": 1.25} if side == 1 and k >= 1800 else {}


class AnalyzeTest(TestCase):
    def files(self, rows, cols=BASIC, fmt=wide, ts=str):
        return (self.write("p.csv", fmt(rows[0], cols, ts)),
                self.write("s.csv", fmt(rows[1], cols, ts)))

    def analyze(self, p, s, *extra):
        r = run("analyze", "--prod", p, "--shadow", s, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r, [json.loads(line) for line in r.stdout.splitlines()]

    def test_help(self):
        r = run("--help")
        self.assertIn("analyze", r.stdout)
        r = run("analyze", "--help")
        self.assertEqual(r.returncode, 0)
        for word in ("--prod", "--shadow", "--events", "--config",
                     "--format", "FILE:LINE:COL"):
            self.assertIn(word, r.stdout)

    def test_step_regression_in_cpu_per_request(self):
        p, s = self.files(simulate(2400, step))
        r, found = self.analyze(p, s)
        self.assertIn("2400 ticks at 1s", r.stderr)
        self.assertTrue(found, "no finding")
        f = found[0]
        for key in ("time", "metric", "deviation", "velocity", "threshold",
                    "severity", "predicted", "lead_s", "verdict",
                    "root_cause", "context", "action"):
            self.assertIn(key, f)
        self.assertEqual(f["metric"], "cpu")
        self.assertEqual(f["kind"], "deviation")
        self.assertGreaterEqual(f["time"], iso(T0 + 1800))
        self.assertLessEqual(f["time"], iso(T0 + 1810))
        self.assertGreater(f["deviation"], 0.1)
        self.assertGreater(f["velocity"], 0.05)
        self.assertEqual(f["threshold"], 0.1)
        self.assertFalse(f["predicted"])
        self.assertIsNone(f["lead_s"])
        self.assertEqual(f["mover"], "shadow")
        self.assertEqual(f["action"], "alert")
        self.assertEqual(f["root_cause"][0]["kind"], "side")
        self.assertTrue(all(x["metric"] == "cpu" for x in found))
        # later, over the whole window, the judge fails the shadow's cpu
        late = [x for x in found if x["kind"] == "sustained"]
        self.assertTrue(late)
        self.assertEqual(late[0]["verdict"]["metric"]["result"], "high")
        self.assertLess(late[0]["verdict"]["metric"]["p_value"], 0.05)

    def test_long_format_and_iso_times_agree_with_wide_and_unix(self):
        rows = simulate(2400, step)
        p, s = self.files(rows)
        _, a = self.analyze(p, s)
        p, s = self.files(rows, fmt=long, ts=iso)
        _, b = self.analyze(p, s)
        self.assertEqual(a, b)

    def test_table(self):
        p, s = self.files(simulate(2400, step))
        r = run("analyze", "--prod", p, "--shadow", s, "--format", "table")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("TIME"))
        self.assertIn("METRIC", lines[0])
        self.assertIn("2026-01-01T00:30:0", lines[1])
        self.assertIn(" cpu ", lines[1])
        # -o table is --format table; -o json the default JSON Lines
        self.assertEqual(run("analyze", "--prod", p, "--shadow", s, "-o",
                             "table").stdout, r.stdout)
        j = run("analyze", "--prod", p, "--shadow", s, "-o", "json")
        self.assertEqual(j.stdout, run("analyze", "--prod", p, "--shadow",
                                       s).stdout)
        self.assertTrue(j.stdout.strip())
        r = run("analyze", "--prod", p, "--shadow", s, "-o", "yaml")
        self.assertEqual(r.returncode, 2)

    def test_slow_memory_leak_predicted(self):
        def leak(k, side):
            if side == 1 and k >= 1800:
                return {"mem": 1 + 0.15 * (k - 1800) / 1200}
            return {}
        p, s = self.files(simulate(3300, leak))
        _, found = self.analyze(p, s)
        f = found[0]
        self.assertEqual(f["metric"], "memory")
        self.assertTrue(f["predicted"])
        self.assertEqual(f["kind"], "predicted")
        self.assertGreaterEqual(f["lead_s"], 60)
        self.assertLess(f["time"], iso(T0 + 3000 - 60))
        self.assertLess(f["deviation"], 0.15)

    def test_slow_endpoint_named(self):
        def slow(k, side):
            return {"slow": {2: 2.0}} if side == 1 and k >= 1800 else {}
        cols = BASIC + ["latency:" + e[0] for e in ENDPOINTS] + \
            ["requests:" + e[0] for e in ENDPOINTS]
        p, s = self.files(simulate(2100, slow), cols)
        _, found = self.analyze(p, s)
        self.assertTrue(found)
        for f in found:
            self.assertTrue(f["metric"].startswith("latency"))
            self.assertEqual(f["root_cause"][0]["kind"], "endpoint")
            self.assertEqual(f["root_cause"][0]["subject"], "/api/search")

    def test_deploy_attributed(self):
        def after_deploy(k, side):
            return {"cost": 1.3} if side == 0 and k >= 1860 else {}
        p, s = self.files(simulate(2400, after_deploy))
        e = self.write("e.csv",
                       "start,end,type,side,description\n"
                       "%s,,deploy,production,\"api v2.4.1, flags on\"\n"
                       "%s,%s,note,both,load test elsewhere\n"
                       % (iso(T0 + 1800), iso(T0 + 100), iso(T0 + 200)))
        _, found = self.analyze(p, s, "--events", e)
        f = found[0]
        self.assertEqual(f["metric"], "cpu")
        self.assertEqual(f["mover"], "production")
        self.assertEqual(f["action"], "rollback")
        self.assertIn("api v2.4.1, flags on", f["reason"])
        self.assertEqual(f["root_cause"][0]["kind"], "change")
        ctx = [c for c in f["context"] if c["type"] == "deploy"]
        self.assertEqual(len(ctx), 1)
        self.assertTrue(ctx[0]["attributed"])
        self.assertEqual(ctx[0]["start"], iso(T0 + 1800))

    def test_nightly_job_from_config_is_annotated_not_acted_on(self):
        def job(k, side):
            t = (T0 + k) % 86400
            if 7200 <= t < 9000:
                return {"cpu_add": 0.22 if side == 0 else 0.37}
            return {}
        rows = simulate(10800, job)
        rows = (rows[0][5400:], rows[1][5400:])
        p, s = self.files(rows)
        c = self.write("c.yaml", "service: api\n"
                       "production:\n  upstreams: [127.0.0.1:1]\n"
                       "shadow:\n  ratio: 1\n"
                       "events:\n  scheduled:\n"
                       "    - {name: nightly, cron: '0 2 * * *', "
                       "duration: 30m, side: both}\n")
        r, found = self.analyze(p, s, "--config", c)
        self.assertTrue(found, "the job should be annotated")
        for f in found:
            self.assertTrue(f["suppressed"])
            self.assertEqual(f["action"], "none")
            self.assertEqual(f["severity"], 0)
            names = [x["name"] for x in f["context"] if x["explains"]]
            self.assertEqual(names, ["nightly"])
        self.assertIn("suppressed)", r.stderr)
        # the same files without the task: an actionable finding
        _, found = self.analyze(p, s)
        self.assertTrue([f for f in found if not f["suppressed"]])

    def test_config_thresholds_apply(self):
        p, s = self.files(simulate(2400, step))
        c = self.write("c.yaml", "service: api\n"
                       "production:\n  upstreams: [127.0.0.1:1]\n"
                       "analysis:\n  metrics:\n"
                       "    cpu: {threshold: 0.5, critical: 0.9}\n")
        r, found = self.analyze(p, s, "--config", c)
        self.assertEqual(found, [])
        self.assertIn("0 findings", r.stderr)

    def test_no_rps_falls_back_to_ratio_and_says_so(self):
        rows = simulate(600)
        p, s = self.files(rows, ["cpu", "memory"])
        r, _ = self.analyze(p, s)
        self.assertIn("no rps series", r.stderr)
        self.assertIn("1/0.1", r.stderr)

    # ------------------------------------------------------------ refusals

    def refused(self, args, message):
        r = run("analyze", *args)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertIn(message, r.stderr)
        return r

    def test_malformed_value_names_file_line_column(self):
        p = self.write("p.csv", "timestamp,cpu\n1767225600,0.5\n"
                       "1767225601,0.5x\n")
        s = self.write("s.csv", "timestamp,cpu\n1767225600,0.5\n")
        r = self.refused(["--prod", p, "--shadow", s],
                         p + ":3:12: not a number")
        self.assertEqual(len(r.stderr.splitlines()), 1)

    def test_malformed_timestamp(self):
        p = self.write("p.csv", "timestamp,metric,value\n"
                       "2026-02-30T00:00:00Z,cpu,1\n")
        s = self.write("s.csv", "timestamp,cpu\n1767225600,0.5\n")
        self.refused(["--prod", p, "--shadow", s], p + ":2:1: no such date")

    def test_unknown_series_in_header(self):
        p = self.write("p.csv", "timestamp,cpu\n1767225600,0.5\n"
                       "1767225601,0.5\n")
        s = self.write("s.csv", "timestamp,cpu,cpu_time\n1767225600,1,2\n")
        self.refused(["--prod", p, "--shadow", s],
                     s + ":1:15: unknown series")

    def test_malformed_events(self):
        p, s = self.files(simulate(60))
        e = self.write("e.csv", "start,end,type,side,description\n"
                       "1767225600,,deploy,canary,x\n")
        self.refused(["--prod", p, "--shadow", s, "--events", e],
                     e + ":2:20: unknown side")

    def test_too_few_timestamps(self):
        p = self.write("p.csv", "timestamp,cpu\n1767225600,0.5\n")
        self.refused(["--prod", p, "--shadow", p],
                     p + ": fewer than two distinct timestamps")

    def test_usage_errors(self):
        p, s = self.files(simulate(60))
        self.refused(["--prod", p], "--prod and --shadow are both needed")
        self.refused(["--prod", p, "--shadow", s, "--format", "xml"],
                     "bad --format 'xml'")
        self.refused(["--prod", p, "--shadow", s, "extra"],
                     "unexpected argument 'extra'")
        self.refused(["--prod", p, "--shadow", self.tmp + "/none.csv"],
                     "none.csv: No such file or directory")

    def test_bad_config(self):
        p, s = self.files(simulate(60))
        c = self.write("c.yaml", "service: api\nproduction:\n"
                       "  upstreams: [127.0.0.1:1]\nanalysis:\n"
                       "  smoothing: 7\n")
        self.refused(["--prod", p, "--shadow", s, "--config", c],
                     c + ":5:14: analysis.smoothing")
