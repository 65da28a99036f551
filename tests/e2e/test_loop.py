"""The closed loop in the real daemon: `umbra run` proxies the load of
the demo's load generator (demo/loadgen) to testsvc replicas, measures
both sides, finds the deviation, decides and acts through the supervisor,
with no finding injected by the test (test_mitigate.py drives the engine
with scripted findings; this file proves the daemon closes the loop).

Paths: a bad config reaching production is rolled back, the file is the
known-good one again and the recovery is verified; in dry run the same
bad config is only a recommendation; a bad change the rollback cannot
undo (it lives outside production.config_dir) fails its verification and
holds automatic actions until a person releases them over the API; a
compressed day's morning ramp gets a replica from the trusted load
forecast before the measured load reaches what the replicas handle.

Set LOOP_TIMINGS=1 to print what each path took (detection, rollback,
verification, the scale-up's lead over the capacity crossing)."""
import json
import math
import re
import os
import signal
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request

from lib import (TOOLS, UMBRA, TestCase, free_port, start, stop, wait_port,
                 wait_until)

TESTSVC = os.path.join(TOOLS, "testsvc")
LOADGEN = os.path.normpath(os.path.join(TOOLS, "..", "demo", "loadgen"))
WAIT = 20.0  # seconds any one expected event may take on a loaded host
GOOD = "latency_ms = 20\n"
BAD = "latency_ms = 200\n"


def timing(text):
    if os.environ.get("LOOP_TIMINGS"):
        print(f"\n  loop: {text}", file=sys.stderr, flush=True)


def http(url, token=None, body=None, timeout=5.0):
    """(status, parsed JSON or text) of a GET, or a POST with a JSON body."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            code, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        code, text = e.code, e.read().decode()
    try:
        return code, json.loads(text)
    except ValueError:
        return code, text


class Daemon:
    """`umbra run CONFIG --log-format json` with its records parsed as
    they come (a thread tails the stderr file), the admin API, the store."""

    def __init__(self, case, yaml, env=None):
        self.case = case
        self.lport, self.aport = free_port(), free_port()
        self.db = os.path.join(case.tmp, "data", "umbra.db")
        self.path = case.write("u.yaml", yaml.format(
            lport=self.lport, aport=self.aport, db=self.db,
            testsvc=TESTSVC, tmp=case.tmp, service=f"loop{self.lport}"))
        self.log_path = os.path.join(case.tmp, "umbra.log")
        self.errf = open(self.log_path, "w")
        case.addCleanup(self.errf.close)
        self.p = start([UMBRA, "run", self.path, "--log-format", "json"],
                       stderr=self.errf, cwd=case.tmp, env=env)
        self.records = []
        self.read_bytes = 0  # of the log, by the tail thread
        self.lock = threading.Lock()
        self.done = threading.Event()
        case.addCleanup(self.done.set)
        threading.Thread(target=self._tail, daemon=True).start()
        wait_port(self.aport, timeout=15, proc=self.p)
        wait_port(self.lport, timeout=15, proc=self.p)
        with open(os.path.join(case.tmp, "umbra-data", "api.token")) as f:
            self.token = f.read().strip()
        self.api = f"http://127.0.0.1:{self.aport}"

    def _tail(self):
        with open(self.log_path, "rb") as f:
            buf = b""
            while not self.done.is_set():
                chunk = f.readline()
                if not chunk:
                    # the reader's own pace: it decides no outcome
                    time.sleep(0.02)
                    continue
                buf += chunk
                if buf.endswith(b"\n"):
                    line, buf = buf, b""
                    try:
                        r = json.loads(line)
                    except ValueError:
                        r = None
                    if r is not None:
                        r["_t"] = time.monotonic()
                        with self.lock:
                            self.records.append(r)
                with self.lock:
                    self.read_bytes += len(chunk)

    def find(self, mod, msg, **fields):
        """The records so far with this module, message and fields (a
        callable field value is a predicate)."""
        out = []
        with self.lock:
            recs = list(self.records)
        for r in recs:
            if r.get("mod") != mod or r.get("msg") != msg:
                continue
            if all(v(r.get(k)) if callable(v) else r.get(k) == v
                   for k, v in fields.items()):
                out.append(r)
        return out

    def wait(self, mod, msg, timeout=WAIT, **fields):
        """The first record matching (seen before or arriving)."""
        def found():
            got = self.find(mod, msg, **fields)
            if not got and self.p.poll() is not None:
                raise AssertionError(f"umbra exited with {self.p.returncode}"
                                     f" waiting for {mod}/{msg}")
            return got
        try:
            return wait_until(found, timeout, f"{mod}/{msg} {fields}")[0]
        except AssertionError as e:
            raise AssertionError(f"{e}:\n" + self.tail_text()) from None

    def tail_text(self, n=40):
        with self.lock:
            recs = self.records[-n:]
        return "\n".join(json.dumps({k: v for k, v in r.items()
                                     if k != "_t"})[:400] for r in recs)

    def get(self, path):
        code, body = http(self.api + path, self.token)
        self.case.assertEqual(code, 200, body)
        return body

    def post(self, path, body):
        return http(self.api + path, self.token, body)

    def status(self):
        return self.get("/api/v1/status")

    def wait_status(self, pred, what, timeout=WAIT):
        last = {}

        def shows():
            last["s"] = self.status()
            return last["s"] if pred(last["s"]) else None
        try:
            return wait_until(shows, timeout, f"status showing {what}",
                              interval=0.2)
        except AssertionError as e:
            raise AssertionError(f"{e}: " + json.dumps(last["s"])[:3000]) \
                from None

    def timeline(self):
        return [n["kind"] + " " + n["text"]
                for n in self.get("/api/v1/timeline")["notes"]]

    def query(self, sql, *args):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True,
                              timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def production_addrs(self):
        """Each production replica's address, from the supervisor's log."""
        return {r["replica"]: r["addr"] for r in
                self.find("provision", "replica up", side="production")}

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        rc = self.p.wait(timeout=30)
        # the tail thread has read the log to its end: the last records
        size = os.path.getsize(self.log_path)
        wait_until(lambda: self.read_bytes >= size,
                   what=f"the tail thread at the log's end ({size} bytes)")
        return rc


def loadgen(case, port, base, peak, day=60.0):
    """The demo's load generator against umbra's proxy (base == peak: a
    constant rate)."""
    case.assertTrue(os.access(LOADGEN, os.X_OK),
                    f"{LOADGEN} is not built (make builds demo/*.c)")
    p = start([LOADGEN, "--target", f"127.0.0.1:{port}", "--base",
               str(base), "--peak", str(peak), "--day", str(day),
               "--quiet"])
    case.addCleanup(stop, p)
    return p


def knob(addr, name="latency_ms"):
    """A testsvc replica's live knob (its /stats)."""
    code, body = http(f"http://{addr}/stats")
    assert code == 200, body
    return body[name]


ROLLBACK_YAML = """service: {service}
listen:
  address: 127.0.0.1:{lport}
production:
  command: [{testsvc}, --port, "{{port}}", --config, "{{config_dir}}/app.conf"]
  config_dir: conf
  replicas: 2
  health: {{type: http, path: /healthz, interval: 200ms}}
  reload: {{signal: HUP}}
shadow:
  ratio: 1
  work_dir: shadow
mirror:
  compare:
    ignore_headers: [Date, X-Side, X-Served-By]
analysis:
  interval: 250ms
  warmup: 2s                 # the test's changes come within seconds
store:
  path: {db}
mitigation:
  soak: 3s
  verify: 10s
  cooldown: 1s
  max_actions_per_hour: 100
  scale: {{enabled: false}}
{extra}api:
  listen: 127.0.0.1:{aport}
"""


class LoopTest(TestCase):
    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.tmp, "conf")
        os.makedirs(self.conf)
        self.put(os.path.join(self.conf, "app.conf"), GOOD)

    def put(self, path, text):
        """Replaces a file atomically, as a deploy tool would (staged
        outside the config dir: no snapshot may see a temporary file)."""
        staged = os.path.join(self.tmp, "staged-" + os.path.basename(path))
        with open(staged, "w") as f:
            f.write(text)
        os.replace(staged, path)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def daemon(self, extra="", env=None):
        d = Daemon(self, ROLLBACK_YAML.replace("{extra}", extra), env=env)
        loadgen(self, d.lport, 40, 40)
        return d

    def warm(self, d):
        """Known-good snapshot, the analysis compares latency, load flows
        through both sides."""
        d.wait("mitigate", "snapshot is known-good")
        return d.wait_status(
            lambda s: s["production"]["replicas_up"] == 2 and
            s["shadow"]["replicas_up"] == 1 and
            "latency_p50" in s.get("analysis", {}) and
            s["proxy"]["mirror_answered"] > 100, "a warm loop")

    def bad_deploy(self, d, files):
        """New files, then SIGHUP to every production replica: a deploy.
        Returns the pids signalled and the time."""
        for path, text in files.items():
            self.put(path, text)
        pids = d.status()["production"]["pids"]
        self.assertEqual(len(pids), 2)
        for pid in pids:
            os.kill(pid, signal.SIGHUP)
        t = time.monotonic()
        for addr in d.production_addrs().values():
            wait_until(lambda: knob(addr) == 200, WAIT,
                       f"{addr} reloading the bad config")
        return pids, t

    def test_rollback_restores_and_verifies(self):
        d = self.daemon()
        self.warm(d)
        app = os.path.join(self.conf, "app.conf")
        good = self.read(app)
        pids, t_deploy = self.bad_deploy(d, {app: BAD})

        # the analysis finds production's latency moved, after its change
        f = d.wait("analysis", "finding", kind="critical",
                   metric=lambda m: m.startswith("latency_"))
        self.assertIn("app.conf", f["cause"])
        self.assertEqual(f["action"], "rollback")
        t_detect = f["_t"]
        dec = d.wait("mitigate", "decision", metric=f["metric"])
        self.assertEqual(dec["rule"], "default-" + f["metric"])
        self.assertFalse(dec["dry_run"])
        act = d.wait("mitigate", "action", action="rollback")
        self.assertIn("restore known-good snapshot", act["detail"])
        self.assertIn("then the reload signal", act["detail"])
        d.wait("mitigate", "outcome", action="rollback", result="applied")
        t_rollback = act["_t"]
        diff = d.wait("mitigate", "rollback: what changed back")["diff"]
        self.assertIn("-latency_ms = 200", diff)
        self.assertIn("+latency_ms = 20", diff)
        self.assertEqual(self.read(app), good, "the known-good file is back")
        # both replicas reloaded it (the same processes: a reload)
        for addr in d.production_addrs().values():
            wait_until(lambda: knob(addr) == 20, WAIT,
                       f"{addr} reloading the known-good config")
        ver = d.wait("mitigate", "outcome", action="rollback",
                     result="verified")
        self.assertRegex(ver["detail"], r"recovered after \d+ s: latency_"
                         r"p\d+ deviation [0-9.]+ within threshold "
                         r"[0-9.]+; 2/2 replicas up")
        t_verified = ver["_t"]
        self.assertEqual(d.find("mitigate", "outcome", action="rollback",
                                result=lambda r: r in ("failed",
                                                       "verify_failed")), [])

        # the API shows it: the deviation is back inside its threshold
        mt = f["metric"]
        s = d.wait_status(lambda s: s["analysis"][mt]["deviation"] <
                          s["analysis"][mt]["threshold"], "the recovery")
        # issue 22: the verified rollback closed the finding at once
        # (not after the analysis's 30 s of quiet)
        d.wait_status(lambda s: s["analysis"][mt].get("open", "none") ==
                      "none", "the finding closed after the verification",
                      timeout=10)
        m = s["mitigation"]
        self.assertFalse(m["held"])
        self.assertFalse(m["verifying"])
        self.assertFalse(m["dry_run"])
        self.assertEqual(m["snapshot"], m["known_good"])
        self.assertGreaterEqual(m["actions"], 1)
        self.assertEqual(sorted(s["production"]["pids"]), sorted(pids),
                         "reloaded, not restarted")
        tl = d.timeline()
        self.assertTrue(any(n.startswith("finding " + f["metric"] +
                                         " critical") for n in tl), tl)
        self.assertTrue(any(n.startswith("action rollback: restore "
                                         "known-good") for n in tl), tl)
        self.assertTrue(any(n.startswith("outcome rollback verified: "
                                         "recovered") for n in tl), tl)

        # the store (read after the daemon flushed it at exit) has the
        # finding and the actions that follow from it
        self.assertEqual(d.stop(), 0)
        rows = d.query("SELECT id, severity, summary FROM findings WHERE "
                       "metric = ?", f["metric"])
        self.assertTrue(rows, "the finding is stored")
        fid, sev, summary = rows[0]
        self.assertEqual(sev, "critical")
        self.assertIn("production moved", summary)
        acts = d.query("SELECT kind, outcome, dry_run FROM actions WHERE "
                       "finding = ? ORDER BY id", fid)
        self.assertIn(("decision", "decided", 0), acts)
        self.assertIn(("rollback", "started", 0), acts)
        self.assertIn(("rollback", "applied", 0), acts)
        self.assertIn(("rollback", "verified", 0), acts)
        self.assertIn(("alert", "started", 0), acts)
        timing(f"rollback: detection {t_detect - t_deploy:.1f} s after the "
               f"deploy, rollback {t_rollback - t_detect:.2f} s after "
               f"detection, verified {t_verified - t_rollback:.1f} s after "
               f"the rollback")

    def test_dry_run_recommends_and_acts_on_nothing(self):
        d = self.daemon("  dry_run: true\n")
        self.warm(d)
        app = os.path.join(self.conf, "app.conf")
        pids, t_deploy = self.bad_deploy(d, {app: BAD})
        f = d.wait("analysis", "finding", kind="critical",
                   metric=lambda m: m.startswith("latency_"))
        rec = d.wait("mitigate", "recommendation (dry run: nothing done)",
                     action="rollback")
        timing(f"dry run: detection {f['_t'] - t_deploy:.1f} s after the "
               f"deploy, recommendation {rec['_t'] - f['_t']:.2f} s after")
        self.assertIn("restore known-good snapshot", rec["detail"])
        d.wait("mitigate", "recommendation (dry run: nothing done)",
               action="alert")
        dec = d.wait("mitigate", "decision", metric=f["metric"])
        self.assertTrue(dec["dry_run"])
        # several ticks and cooldowns pass: nothing may happen meanwhile
        later = d.status()["ticks"] + 12
        d.wait_status(lambda s: s["ticks"] >= later, "12 more ticks")
        self.assertEqual(self.read(app), BAD.encode(), "the bad file stays")
        for addr in d.production_addrs().values():
            self.assertEqual(knob(addr), 200, "nothing reloaded")
        s = d.status()
        self.assertEqual(sorted(s["production"]["pids"]), sorted(pids),
                         "nothing restarted")
        m = s["mitigation"]
        self.assertTrue(m["dry_run"])
        self.assertFalse(m["verifying"])
        self.assertFalse(m["held"])
        self.assertEqual(m["actions"], 0)
        self.assertNotEqual(m["snapshot"], m["known_good"])
        for mod, msg in (("mitigate", "action"),
                         ("mitigate", "rollback: what changed back"),
                         ("provision", "signalled a replica"),
                         ("provision", "replica started"),
                         ("alert", "alert firing")):
            got = d.find(mod, msg)
            if msg == "replica started":  # the three of the start only
                self.assertEqual(len(got), 3, got)
            else:
                self.assertEqual(got, [], f"{mod}/{msg} in a dry run")
        tl = d.timeline()
        self.assertTrue(any(n.startswith("action recommendation: rollback: "
                                         "restore known-good") for n in tl),
                        tl)
        self.assertEqual(d.stop(), 0)
        acts = d.query("SELECT kind, outcome, dry_run FROM actions")
        self.assertIn(("rollback", "recommended", 1), acts)
        self.assertIn(("rollback", "dry_run", 1), acts)
        self.assertIn(("alert", "recommended", 1), acts)
        self.assertNotIn("started", {a[1] for a in acts})
        self.assertEqual({a[2] for a in acts if a[0] == "decision"}, {1})

    def test_wall_clock_steps_change_nothing(self):
        """The wall clock steps back 10 min, then forward 20 min, while
        a finding is open (dry run): no finding, decision or audit
        record is made again, no tick is refused. libfaketime moves
        umbra's CLOCK_REALTIME only (monotonic stays real)."""
        lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
        if not os.path.exists(lib):
            self.skipTest("libfaketime is not installed (scripts/deps.sh)")
        stamp = os.path.join(self.tmp, "faketime")
        with open(stamp, "w") as f:
            f.write("+0\n")
        # ASan wants its runtime first among the loaded libraries; a
        # preloaded libfaketime comes before it, which ASan accepts only
        # when told (a sanitizer build runs this test too)
        env = {"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": stamp,
               "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
               "ASAN_OPTIONS": "verify_asan_link_order=0"}
        d = self.daemon("  dry_run: true\n", env=env)
        self.warm(d)
        app = os.path.join(self.conf, "app.conf")
        self.bad_deploy(d, {app: BAD})
        f = d.wait("analysis", "finding", kind="critical",
                   metric=lambda m: m.startswith("latency_"))
        # at once, while the tick's analysis holds the new finding
        for step in ("-600", "+1200"):
            with open(stamp, "w") as fh:
                fh.write(step + "\n")
            later = d.status()["ticks"] + 12
            d.wait_status(lambda s: s["ticks"] >= later, "12 more ticks")
        d.wait("mitigate", "recommendation (dry run: nothing done)",
               action="rollback")
        same = d.find("analysis", "finding", kind="critical",
                      metric=f["metric"])
        self.assertEqual(len(same), 1, "the finding logged again")
        self.assertEqual(d.find("analysis", "the analysis refused the tick; "
                                "this tick decides nothing"), [])
        decs = [(x["rule"], x["metric"]) for x in
                d.find("mitigate", "decision")]
        self.assertEqual(len(decs), len(set(decs)), decs)
        self.assertEqual(d.find("alert", "alert firing"), [])
        self.assertEqual(d.stop(), 0)
        rows = d.query("SELECT metric, severity FROM findings")
        crit = [r for r in rows if r[0] == f["metric"] and
                r[1] == "critical"]
        self.assertEqual(len(crit), 1, rows)
        # each decision and action once (outcomes name only theirs)
        acts = d.query("SELECT kind, outcome, reason FROM actions "
                       "WHERE reason != ''")
        self.assertEqual(len(acts), len(set(acts)), acts)

    def test_failed_verification_holds_until_released(self):
        # The harm lives outside production.config_dir: the replicas read
        # their knobs from run/app.conf, which snapshots do not cover;
        # config_dir holds the release's manifest. The deploy changes
        # both; the rollback restores the manifest and reloads, and the
        # latency stays: verify_failed, hold, until a person releases it.
        run = os.path.join(self.tmp, "run")
        os.makedirs(run)
        rt = os.path.join(run, "app.conf")
        self.put(rt, GOOD)
        os.remove(os.path.join(self.conf, "app.conf"))
        manifest = os.path.join(self.conf, "release.conf")
        self.put(manifest, "release = 1\n")
        d = Daemon(self, ROLLBACK_YAML.replace(
            '"{{config_dir}}/app.conf"', f'"{rt}"').replace(
            "verify: 10s", "verify: 5s").replace("{extra}", ""))
        loadgen(self, d.lport, 40, 40)
        self.warm(d)
        self.bad_deploy(d, {manifest: "release = 2\n", rt: BAD})
        f = d.wait("analysis", "finding", kind="critical",
                   metric=lambda m: m.startswith("latency_"))
        self.assertIn("release.conf", f["cause"])
        app = d.wait("mitigate", "outcome", action="rollback",
                     result="applied")
        self.assertEqual(self.read(manifest), b"release = 1\n")
        self.assertEqual(self.read(rt), BAD.encode())
        out = d.wait("mitigate", "outcome", action="rollback",
                     result="verify_failed", timeout=WAIT + 5)
        self.assertEqual(out["level"], "error")
        timing(f"hold: verify_failed {out['_t'] - app['_t']:.1f} s after "
               f"the rollback (mitigation.verify 5 s)")
        self.assertRegex(out["detail"], r"not recovered within "
                         r"mitigation.verify \(5 s\): latency_p\d+ "
                         r"deviation [0-9.]+ over threshold")
        d.wait("mitigate", "automatic actions held until a person releases "
               "them", level="error")
        al = d.wait("alert", "alert firing", alert="UmbraActionsHeld")
        self.assertEqual(al["severity"], "critical")
        s = d.wait_status(lambda s: s["mitigation"]["held"], "held")
        self.assertIn("verify", s["mitigation"]["hold_reason"])
        hold = os.path.join(self.tmp, "data", "snapshots", "hold")
        self.assertTrue(os.path.exists(hold), "the hold survives restarts")

        # another change to production's config while held: snapshotted,
        # and nothing is done (the findings are the same ones, already
        # acted on; a new one would be audited as held: test_mitigate)
        self.put(manifest, "release = 3\n")
        d.wait("mitigate", "config snapshot taken", timeout=WAIT)
        later = d.status()["ticks"] + 8
        d.wait_status(lambda s: s["ticks"] >= later, "8 more ticks")
        self.assertEqual(self.read(manifest), b"release = 3\n")
        self.assertEqual(len(d.find("mitigate", "outcome", action="rollback",
                                    result="applied")), 1,
                         "no second rollback while held")

        # a person acts: fixes the file outside config_dir, releases
        self.put(rt, GOOD)
        for pid in d.status()["production"]["pids"]:
            os.kill(pid, signal.SIGHUP)
        code, body = d.post("/api/v1/release",
                            {"who": "e2e", "note": "run/app.conf fixed"})
        self.assertEqual(code, 200, body)
        self.assertEqual(body, {"status": "released"})
        d.wait("mitigate", "hold released; automatic actions resume")
        s = d.status()
        self.assertFalse(s["mitigation"]["held"])
        self.assertFalse(os.path.exists(hold))
        code, body = d.post("/api/v1/release", {"who": "e2e"})
        self.assertEqual(code, 409, body)
        tl = d.timeline()
        self.assertTrue(any(n.startswith("outcome rollback verify_failed")
                            for n in tl), tl)
        self.assertTrue(any(n.startswith("outcome automatic actions held")
                            for n in tl), tl)
        self.assertEqual(d.stop(), 0)
        acts = d.query("SELECT kind, outcome FROM actions")
        self.assertIn(("rollback", "verify_failed"), acts)
        self.assertIn(("hold", "started"), acts)
        self.assertIn(("hold", "released"), acts)


SCALE_YAML = """service: {service}
listen:
  address: 127.0.0.1:{lport}
production:
  command: [{testsvc}, --port, "{{port}}", --latency-ms, "2"]
  replicas: 2
  health: {{type: http, path: /healthz, interval: 200ms}}
shadow:
  ratio: 1
  work_dir: shadow
mirror:
  compare:
    ignore_headers: [Date, X-Side, X-Served-By]
analysis:
  interval: 250ms
  warmup: 2s                 # the test's changes come within seconds
store:
  path: {db}
mitigation:
  soak: 1m
  cooldown: 1s
  max_actions_per_hour: 100
  scale:
    min: 2
    max: 4
    capacity: {capacity}
    target_utilization: {target}
    lead: {lead}s
    cooldown: 5m
api:
  listen: 127.0.0.1:{aport}
"""


def day_rate(t, base, peak, day):
    """demo/loadgen's rate at t seconds into its day."""
    x = (1 - math.cos(2 * math.pi * t / day)) / 2
    return base + (peak - base) * x * x


class ScaleTest(TestCase):
    # A replica handles CAPACITY req/s, planned at TARGET of it: two
    # handle 40 req/s. The day goes from 20 req/s to 120 over half of
    # DAY seconds: it crosses 40 some 28 s in, after the forecast had
    # the quiet morning to earn its trust (30 steps of lead / 30, then
    # 10 of its own lead-ahead predictions checked: ~19 s at these
    # settings, src/mitigate/scale.c).
    CAPACITY, TARGET, LEAD = 25, 0.8, 8
    BASE, PEAK, DAY = 20, 120, 120

    def test_scales_up_ahead_of_the_forecast_peak(self):
        d = Daemon(self, SCALE_YAML.replace("{capacity}", str(
            self.CAPACITY)).replace("{target}", str(self.TARGET)).replace(
            "{lead}", str(self.LEAD)))
        handled = 2 * self.CAPACITY * self.TARGET
        t0 = time.monotonic()
        loadgen(self, d.lport, self.BASE, self.PEAK, self.DAY)
        cross = next(i / 100 for i in range(100 * self.DAY) if day_rate(
            i / 100, self.BASE, self.PEAK, self.DAY) >= handled)
        trace = []

        def up3(s):
            trace.append((round(time.monotonic() - t0, 2),
                          s["production"].get("metrics", {}).get("rps"),
                          s["mitigation"]["forecast_trusted"],
                          s["mitigation"]["replicas_desired"],
                          s["production"]["replicas_up"]))
            return s["production"]["replicas_up"] >= 3
        try:
            s = d.wait_status(up3, "a third replica", timeout=cross + 20)
        except AssertionError as e:
            raise AssertionError(
                f"{e}\n(t, rps, trusted, desired, up): {trace[-40:]}\n"
                + "\n".join(r["condition"] for r in d.find(
                    "mitigate", "decision", rule="scaler"))) from None
        t_up = time.monotonic()
        # the third replica is up while the measured load is still below
        # what two replicas handle
        self.assertLess(s["production"]["metrics"]["rps"], handled, trace)
        dec = d.wait("mitigate", "decision", rule="scaler")
        self.assertTrue(dec["condition"].startswith("preemptive: forecast "),
                        dec)
        m = re.match(r"preemptive: forecast ([0-9.]+) req/s in 8 s \(now "
                     r"([0-9.]+)\)", dec["condition"])
        self.assertTrue(m, dec["condition"])
        forecast, now = float(m.group(1)), float(m.group(2))
        self.assertGreater(forecast, handled)
        self.assertLess(now, handled, "the load was still below what two "
                        "replicas handle")
        act = d.wait("mitigate", "action", action="scale")
        self.assertEqual(act["detail"], "production replicas 2 -> 3")
        d.wait("mitigate", "outcome", action="scale", result="ok")
        self.assertEqual(s["mitigation"]["replicas_desired"], 3)
        self.assertTrue(s["mitigation"]["forecast_trusted"])
        tl = d.timeline()
        self.assertIn("scale production replicas 2 -> 3", tl)
        t_dec = dec["_t"] - t0
        timing(f"scale: decided {t_dec:.1f} s into the day, replica up "
               f"{t_up - t0:.1f} s, the load crosses {handled:.0f} req/s at "
               f"{cross:.1f} s: {cross - t_dec:.1f} s ahead; measured "
               f"{now} req/s, forecast {forecast} req/s")
        self.assertEqual(d.stop(), 0)
