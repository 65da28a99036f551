#!/usr/bin/env python3
"""demo.py: what `make demo` runs. umbra closes the loop, in about three
minutes, on embedded defaults (examples/demo.yaml):

  1. umbra runs the demo service (demo/demosvc.c) as production, two
     replicas, and as a shadow at half the traffic, with its proxy
     between the load generator (demo/loadgen.c, a day compressed into
     four minutes) and them;
  2. it learns the baseline: the config snapshot becomes known-good;
  3. midway a bad config reaches production (the search cache is turned
     off), as a deploy pipeline would ship it: the file changes, production
     reloads, a deploy marker is posted to umbra's API;
  4. umbra sees the change (drift), the deviation and its velocity, names
     the root cause, rolls production back to the known-good snapshot,
     verifies the recovery and alerts (a webhook this script receives),
     then resolves the alert;
  5. ahead of the day's peak it adds replicas because the load forecast
     says the current ones will not be enough.

The timeline is printed as it happens, from umbra's log (JSON), its API
and the webhook. The exit status is 0 when every step happened, 1 when
the loop did not act as it should (the missing steps are named). The run's
state stays in build/demo-run (store, log, snapshots) for `umbra export`.

    python3 demo/demo.py [--quick]   (make demo)
"""
import http.server
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "build", "demo-run")
UMBRA = os.path.join(ROOT, "build", "umbra")
LOADGEN = os.path.join(ROOT, "build", "demo", "loadgen")
CONFIG = os.path.join(ROOT, "examples", "demo.yaml")
CONF_DIR = os.path.join(RUN, "conf")
CONF_FILE = os.path.join(CONF_DIR, "demosvc.conf")

# Must match examples/demo.yaml.
PROXY_PORT, API_PORT, HOOK_PORT = 18400, 18401, 18402
PROD_PORTS, SHADOW_PORT = range(18410, 18416), 18430

DAY_S = 240          # the compressed day: peak at half of it
BASE_RPS, PEAK_RPS = 20, 150
DEPLOY_AT_S = 40     # the bad config ships this long into the load
DEADLINE_S = 200     # the loop must have acted by then (<= 4 min total)
BAD_CONFIG = """# demosvc.conf: shipped by mistake: the search cache is off
cache = off
search_cpu_ms = 2
cache_miss_factor = 8
product_cpu_ms = 0.3
latency_ms = 4
leak_kib = 0
"""

T0 = time.monotonic()


def say(what, text=""):
    print(f"[{time.monotonic() - T0:6.1f}s] {what:<22} {text}", flush=True)


def port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Webhook:
    """The alert receiver umbra's mitigation.alert.webhook points at."""

    def __init__(self):
        self.q = queue.Queue()
        q = self.q

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                try:
                    q.put(json.loads(self.rfile.read(n)))
                except ValueError:
                    pass
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", HOOK_PORT),
                                                   H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()


class Api:
    def __init__(self):
        self.token = None

    def call(self, path, body=None):
        if self.token is None:
            with open(os.path.join(RUN, "api.token")) as f:
                self.token = f.read().strip()
        req = urllib.request.Request(
            f"http://127.0.0.1:{API_PORT}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())


class Demo:
    def __init__(self):
        self.log = queue.Queue()
        self.api = Api()
        self.seen = {}          # step -> time it happened (s)
        self.umbra = self.loadgen = None
        self.t_load = None
        self.deployed = False
        self.findings = set()
        self.firing = set()       # alerts firing: (name, metric)
        self.after_deploy = set() # of those, the ones fired after it
        self.preempting = False   # the last decision was the scaler's
        self.last_rule = ""       # and its rule

    # ------------------------------------------------------------ setup

    def prepare(self):
        busy = [p for p in [PROXY_PORT, API_PORT, HOOK_PORT, SHADOW_PORT,
                            *PROD_PORTS] if not port_free(p)]
        if busy:
            sys.exit(f"demo: ports {busy} on 127.0.0.1 are in use "
                     "(another demo running?)")
        for exe in (UMBRA, LOADGEN):
            if not os.access(exe, os.X_OK):
                sys.exit(f"demo: {exe} is missing (run `make demo`)")
        shutil.rmtree(RUN, ignore_errors=True)
        # the shadow's files live beside the run's (which holds umbra's
        # secrets, 0700): see examples/demo.yaml and docs/security.md
        shutil.rmtree(os.path.join(ROOT, "build", "demo-shadow"),
                      ignore_errors=True)
        os.makedirs(RUN, mode=0o700)  # umbra's secrets, store and log
        shutil.copytree(os.path.join(ROOT, "demo", "conf"), CONF_DIR)

    def start_umbra(self):
        self.umbra_log = open(os.path.join(RUN, "umbra.log"), "w")
        self.umbra = subprocess.Popen(
            [UMBRA, "run", CONFIG, "--log-format", "json"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self.read_log, daemon=True).start()

    def read_log(self):
        for line in self.umbra.stderr:
            self.umbra_log.write(line)
            self.umbra_log.flush()
            try:
                self.log.put(json.loads(line))
            except ValueError:
                pass

    def wait_ready(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.drain()
            if self.umbra.poll() is not None:
                sys.exit("demo: umbra exited at start; see "
                         f"{RUN}/umbra.log")
            try:
                st = self.api.call("/api/v1/status")
                if (st.get("production_replicas_up", 0) >= 2 and
                        st.get("shadow_replicas_up", 0) >= 1):
                    return st
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        sys.exit(f"demo: production and shadow did not come up in 30 s; "
                 f"see {RUN}/umbra.log")

    def start_load(self):
        self.loadgen_log = open(os.path.join(RUN, "loadgen.log"), "w")
        self.loadgen = subprocess.Popen(
            [LOADGEN, "--target", f"127.0.0.1:{PROXY_PORT}", "--base",
             str(BASE_RPS), "--peak", str(PEAK_RPS), "--day", str(DAY_S),
             "--duration", str(DAY_S)],
            stdout=self.loadgen_log, stderr=subprocess.STDOUT)
        self.t_load = time.monotonic()

    # ------------------------------------------------------------ events

    def mark(self, step):
        self.seen.setdefault(step, time.monotonic() - T0)

    def on_log(self, r):
        mod, msg = r.get("mod"), r.get("msg")
        if mod == "mitigate" and msg == "snapshot is known-good":
            self.mark("baseline")
            say("baseline learned", f"config snapshot {r['id'][:12]} is "
                f"known-good after {r.get('soak')} without a critical "
                "finding")
        elif mod == "drift" and msg.startswith("drift finding"):
            self.mark("drift")
            say("change detected", "drift: production and shadow are no "
                f"longer twins ({r.get('trigger', '')})")
        elif mod == "drift" and msg.startswith("drift resolved"):
            say("drift resolved", "production and shadow agree again")
        elif mod == "analysis" and msg == "finding":
            key = (r["metric"], r["kind"])
            if key in self.findings or r.get("severity", 0) < 50:
                return
            self.findings.add(key)
            if not self.deployed:  # noise while learning: shown, not counted
                say("finding", f"{r['metric']} {r['kind']} before the "
                    f"deploy: deviation {r['deviation']:.2f}, "
                    f"{r.get('cause', '')} (not acted on by rollback)")
                return
            self.mark("deviation")
            say("deviation", f"{r['metric']} {r['kind']}: deviation "
                f"{r['deviation']:.2f} (threshold {r['threshold']:.2f}), "
                f"velocity {r['velocity']:.3f}/s, severity "
                f"{r['severity']:.0f}")
            if r.get("cause"):
                self.mark("root_cause")
                say("root cause", r["cause"])
        elif mod == "analysis" and msg == "finding resolved":
            say("finding resolved", r.get("metric", ""))
        elif mod == "mitigate" and msg == "action" and \
                r.get("action") == "rollback":
            self.mark("rollback")
            say("ROLLBACK", r.get("detail", ""))
        elif mod == "mitigate" and msg == "action" and \
                r.get("action") == "scale":
            m = re.search(r"(\d+) -> (\d+)", r.get("detail", ""))
            up = m and int(m.group(2)) > int(m.group(1))
            if up and self.preempting:
                self.mark("preemptive_scale")
            rule = self.last_rule
            say("SCALE", r.get("detail", "") +
                (" (ahead of the forecast peak)" if self.preempting
                 else " (the scaler, reactive)" if rule == "scaler"
                 else f" (rule {rule})"))
            self.preempting = False
        elif mod == "mitigate" and msg == "rollback: what changed back":
            for line in r.get("diff", "").splitlines():
                if line[:1] in "+-" and line[:3] not in ("+++", "---"):
                    say("", f"  {line}")
        elif mod == "mitigate" and msg == "outcome":
            act, res = r.get("action"), r.get("result")
            if act == "rollback" and res == "verified":
                self.mark("verified")
                say("recovery verified", r.get("detail", ""))
            elif act == "rollback" and res in ("verify_failed", "failed"):
                self.mark("rollback_failed")
                say("ROLLBACK FAILED", r.get("detail", ""))
        elif mod == "mitigate" and msg == "decision":
            cond = r.get("condition", "")
            self.last_rule = r.get("rule", "")
            self.preempting = r.get("rule") == "scaler" and \
                cond.startswith("preemptive")
            if r.get("rule") == "scaler":
                say("scale decision", cond)
        elif mod == "mitigate" and msg.startswith("automatic actions held"):
            self.mark("held")
            say("HELD", r.get("why", ""))

    def on_hook(self, a):
        al = a.get("alert", {})
        lab = al.get("labels", {})
        if a.get("status") == "firing":
            key = (al.get("name"), lab.get("metric", ""))
            if key in self.firing:
                return  # a repeat: receivers expect them (Alertmanager)
            self.firing.add(key)
            if self.deployed:
                self.after_deploy.add(key)
                self.mark("alert_sent")
            say("alert received", f"{lab.get('severity')} {al.get('name')}"
                f" {lab.get('metric', '')} (webhook): "
                f"{al.get('annotations', {}).get('summary', '')}")
        elif a.get("status") == "resolved":
            key = (al.get("name"), lab.get("metric", ""))
            self.firing.discard(key)
            if key in self.after_deploy:
                self.mark("alert_resolved")
            say("alert resolved", f"{al.get('name')} {lab.get('metric', '')}"
                " (webhook)")

    def drain(self, hook=None):
        while True:
            try:
                self.on_log(self.log.get_nowait())
            except queue.Empty:
                break
        while hook:
            try:
                self.on_hook(hook.q.get_nowait())
            except queue.Empty:
                break

    # ------------------------------------------------------------ the bad deploy

    def deploy_bad_config(self):
        with open(CONF_FILE + ".new", "w") as f:
            f.write(BAD_CONFIG)
        os.replace(CONF_FILE + ".new", CONF_FILE)
        st = self.api.call("/api/v1/status")
        pids = st["production"]["pids"]
        for p in pids:
            os.kill(p, signal.SIGHUP)
        self.api.call("/api/v1/events", {
            "type": "deploy", "side": "production",
            "text": "demosvc.conf: search cache off"})
        self.deployed = True
        self.mark("deploy")
        say("BAD DEPLOY", "demosvc.conf with cache = off shipped to "
            f"production; {len(pids)} replicas reloaded (SIGHUP); deploy "
            "marker posted")

    # ------------------------------------------------------------ run

    REQUIRED = [
        ("baseline", "baseline learned (known-good snapshot)"),
        ("deploy", "bad config shipped"),
        ("drift", "change detected (drift)"),
        ("deviation", "deviation and velocity"),
        ("root_cause", "root cause named"),
        ("rollback", "rollback to the known-good snapshot"),
        ("verified", "recovery verified"),
        ("alert_sent", "alert sent (webhook)"),
        ("alert_resolved", "alert resolved (webhook)"),
        ("preemptive_scale", "preemptive scale-up ahead of the peak"),
    ]

    def done(self):
        return all(k in self.seen for k, _ in self.REQUIRED)

    def run(self):
        self.prepare()
        hook = Webhook()
        try:
            say("start", "umbra run examples/demo.yaml: production (2 "
                "replicas of demosvc), shadow (ratio 50%), proxy on "
                f"127.0.0.1:{PROXY_PORT}, API on 127.0.0.1:{API_PORT}")
            self.start_umbra()
            st = self.wait_ready()
            say("ready", f"production pids {st['production']['pids']}, "
                f"shadow pids {st['shadow']['pids']}")
            self.start_load()
            say("load", f"a day in {DAY_S} s: {BASE_RPS} req/s at night, "
                f"{PEAK_RPS} at noon (t = {DAY_S // 2} s)")
            deadline = T0 + DEADLINE_S
            last_status = 0
            while time.monotonic() < deadline and not self.done():
                self.drain(hook)
                now = time.monotonic()
                if self.umbra.poll() is not None:
                    say("umbra exited", f"status {self.umbra.returncode}")
                    break
                if (not self.deployed and "baseline" in self.seen and
                        now - self.t_load >= DEPLOY_AT_S):
                    self.deploy_bad_config()
                if now - last_status >= 15:
                    last_status = now
                    self.print_status()
                time.sleep(0.2)
            self.drain(hook)
        finally:
            self.stop()
            hook.stop()
        return self.summary()

    def print_status(self):
        try:
            st = self.api.call("/api/v1/status")
        except (OSError, ValueError):
            return
        m = st.get("mitigation", {})
        rps = st.get("production", {}).get("metrics", {}).get("rps")
        opened = [f"{k} {v['open']} {v['deviation']:.2f}"
                  for k, v in st.get("analysis", {}).items()
                  if v.get("open", "none") != "none"]
        say("status", f"production {st.get('production_replicas_up')} "
            f"replicas at {rps or 0:.0f} req/s; forecast "
            f"{'trusted' if m.get('forecast_trusted') else 'learning'}; "
            f"alerts firing {m.get('alerts_firing')}; open findings: "
            f"{', '.join(opened) or 'none'}")

    def stop(self):
        for p in (self.loadgen, self.umbra):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in (self.loadgen, self.umbra):
            if p:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.drain()

    def summary(self):
        print()
        ok = True
        for k, what in self.REQUIRED:
            t = self.seen.get(k)
            print(f"  {'ok  ' if t is not None else 'MISS'} {what}"
                  f"{f' at {t:.1f}s' if t is not None else ''}")
            ok = ok and t is not None
        if "rollback_failed" in self.seen or "held" in self.seen:
            print("  FAIL the rollback did not recover production")
            ok = False
        with open(CONF_FILE) as f:
            restored = "cache = on" in f.read()
        print(f"  {'ok  ' if restored else 'MISS'} production's "
              "demosvc.conf is the known-good one again")
        ok = ok and restored
        print(f"\nThe store is in {RUN}/umbra.db: try\n"
              f"  build/umbra export --db {RUN}/umbra.db --list\n"
              f"and umbra's log is {RUN}/umbra.log.")
        print("demo: the loop acted as it should" if ok else
              "demo: the loop did NOT act as it should")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(Demo().run())
