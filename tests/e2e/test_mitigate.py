"""Decide and act, end to end: real testsvc replicas under the real
supervisor, the mitigation engine driving them through the daemon's ops
(tests/tools/mitdrive: the analysis's findings come from the test, until
`umbra run`'s tick calls the engine), real files, signals, a real
Alertmanager, and `umbra stress` and `umbra snapshots` as users run them.

Paths: a rollback restores the file and production's behaviour changes
back; a failed verification holds actions until released; dry run acts on
nothing; Alertmanager receives the alert and its resolution; the stress
test finds a knee on a CPU-limited service."""
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

import lib
from lib import (TOOLS, UMBRA, RecordingServer, TestCase, free_port, run,
                 stop, wait_until)

TESTSVC = os.path.join(TOOLS, "testsvc")
MITDRIVE = os.path.join(TOOLS, "mitdrive")
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
WAIT = 15.0  # seconds any one expected event may take on a loaded host


def get(addr, path, timeout=5.0):
    try:
        with urllib.request.urlopen(f"http://{addr}{path}",
                                    timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Driver:
    """tests/tools/mitdrive on a config: commands in, notes out."""

    def __init__(self, case, config, env=None):
        self.case = case
        self.path = case.write("m.yaml", config)
        self.log_path = os.path.join(case.tmp, "mitdrive.log")
        self.log = open(self.log_path, "w")
        case.addCleanup(self.log.close)
        self.p = subprocess.Popen(
            [MITDRIVE, self.path], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, text=True,
            start_new_session=True, cwd=case.tmp, env=env)
        lib._live.append(self.p)
        self.lines = queue.Queue()
        self.seen = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        case.addCleanup(self.close)

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, *cmds):
        for c in cmds:
            self.p.stdin.write(c + "\n")
        self.p.stdin.flush()

    def wait(self, pattern, timeout=WAIT):
        """The first line (seen before or arriving) matching pattern."""
        rx = re.compile(pattern)

        def matched():
            ended = not self.reader.is_alive()  # before the last lines
            while not self.lines.empty():
                self.seen.append(self.lines.get())
            for line in self.seen:
                if rx.search(line):
                    return line
            if ended:
                raise AssertionError(f"mitdrive ended (exit "
                                     f"{self.p.poll()}) before a line "
                                     f"matching {pattern!r}")
            return None
        try:
            return wait_until(matched, timeout, f"a line matching {pattern!r}")
        except AssertionError as e:
            raise AssertionError(
                f"{e}; got:\n" + "\n".join(self.seen[-30:]) + "\nlog:\n"
                + self.log_text()[-3000:]) from None

    def forget(self):
        """Later waits match only lines that arrive from now on."""
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        self.seen = []

    def status(self):
        self.seen = [l for l in self.seen if not l.startswith("status ")]
        self.send("status")
        return json.loads(self.wait(r"^status ").split(" ", 1)[1])

    def audit(self):
        self.seen = [l for l in self.seen if not l.startswith("audit ")]
        self.send("audit")
        self.wait(r"^audit end")
        return [l for l in self.seen if l.startswith("audit ")
                and l != "audit end"]

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def close(self):
        if self.p.poll() is None:
            try:
                self.send("quit")
                self.p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.p in lib._live:
            stop(self.p, grace=2)


def base_config(case, conf_dir, extra_production="", mitigation="",
                soak="1s"):
    port = free_port()
    return (f"service: e2e-mit-{os.getpid()}-{port}\n"
            f"production:\n"
            f"  command: [{TESTSVC}, --port, '{{port}}', --config, "
            f"'{{config_dir}}/app.conf']\n"
            f"  config_dir: {conf_dir}\n"
            f"  port: {port}\n"
            f"  health: {{type: http, path: /healthz, interval: 200ms}}\n"
            f"{extra_production}"
            f"shadow:\n  work_dir: {case.tmp}/shadow\n"
            f"analysis:\n  interval: 200ms\n  velocity_window: 2s\n"
            f"store:\n  path: {case.tmp}/data/umbra.db\n"
            f"mitigation:\n  soak: {soak}\n  verify: 3s\n  cooldown: 0s\n"
            f"  scale: {{enabled: false}}\n{mitigation}"), port


class MitigateTest(TestCase):
    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.tmp, "conf")
        os.makedirs(self.conf)
        self.set_conf("latency_ms = 0\n")

    def set_conf(self, text):
        with open(os.path.join(self.conf, "app.conf"), "w") as f:
            f.write(text)

    def conf_text(self):
        with open(os.path.join(self.conf, "app.conf")) as f:
            return f.read()

    def latency_knob(self, port):
        st, body = get(f"127.0.0.1:{port}", "/stats")
        self.assertEqual(st, 200)
        return json.loads(body)["latency_ms"]

    def bad_deploy(self, d, port, latency=250):
        """Known-good first, then a bad config reaches production."""
        d.wait(r"^note snapshot .* is known-good")
        self.set_conf(f"latency_ms = {latency}\n")
        d.send("changed", "signal HUP")
        d.wait(r"^signalled 1")
        wait_until(lambda: self.latency_knob(port) == latency, WAIT,
                   f"production reloading latency_ms = {latency}")

    def test_rollback_restores_file_and_behaviour(self):
        cfg, port = base_config(self, self.conf,
                                "  reload: {signal: HUP}\n")
        d = Driver(self, cfg)
        d.wait("^ready")
        self.bad_deploy(d, port)
        t0 = time.monotonic()
        st, _ = get(f"127.0.0.1:{port}", "/work")
        self.assertGreaterEqual(time.monotonic() - t0, 0.2,
                                "the bad config is live: slow")
        d.send("view latency_p99 2.0 0.25",
               "finding latency_p99 critical production")
        d.wait(r"^note action rollback: restore known-good snapshot")
        d.wait(r"^note outcome rollback applied: 1 file restored; the "
               r"reload signal")
        self.assertEqual(self.conf_text(), "latency_ms = 0\n")
        wait_until(lambda: self.latency_knob(port) == 0, WAIT,
                   "production fast again")
        d.send("view latency_p99 0.02 0.25")
        d.wait(r"^note outcome rollback verified: recovered after .*1/1 "
               r"replicas up")
        s = d.status()
        self.assertFalse(s["held"])
        self.assertEqual(s["current"], s["known_good"])
        trail = d.audit()
        kinds = [l.split()[1] + " " + l.split()[2] + " " + l.split()[3]
                 for l in trail]
        self.assertIn("finding latency_p99/critical 95", kinds)
        self.assertIn("action rollback started", kinds)
        self.assertIn("outcome rollback verified", kinds)
        # the snapshots, as an operator sees them
        r = run("snapshots", "list", d.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^[0-9a-f]{12} \* .*start$")
        self.assertIn("test deploy", r.stdout)
        r = run("snapshots", "diff", d.path, "good", "current")
        self.assertEqual(r.returncode, 0, "back on the known-good config")
        bad = [l for l in r.stdout.splitlines()]
        self.assertEqual(bad, [])
        ids = re.findall(r"(?m)^([0-9a-f]{12}) ", run(
            "snapshots", "list", d.path).stdout)
        r = run("snapshots", "diff", d.path, ids[0], ids[1])
        self.assertEqual(r.returncode, 1)
        self.assertIn("-latency_ms = 0", r.stdout.replace(
            "+latency_ms = 0", "-latency_ms = 0"))
        r = run("snapshots", "show", d.path, "good")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^f 0644 +15 [0-9a-f]{16}  app.conf$")

    def test_a_new_finding_gets_its_decision_within_the_cooldown(self):
        """Issue 22: a finding acted on (a rollback on cpu) does not
        swallow the decision on another metric's finding within
        mitigation.cooldown (10 minutes here)."""
        cfg, port = base_config(self, self.conf,
                                "  reload: {signal: HUP}\n")
        cfg = cfg.replace("  cooldown: 0s\n", "  cooldown: 10m\n")
        d = Driver(self, cfg)
        d.wait("^ready")
        self.bad_deploy(d, port)
        d.send("view cpu 0.5", "finding cpu critical production")
        d.wait(r"^note action rollback: restore known-good snapshot")
        wait_until(lambda: self.latency_knob(port) == 0, WAIT,
                   "production rolled back")
        d.send("view cpu 0.01")
        d.wait(r"^note outcome rollback verified")
        d.forget()
        # a second bad deploy, seconds later: another metric moves
        # (production is back on the known-good config already)
        self.set_conf("latency_ms = 300\n")
        d.send("changed", "signal HUP")
        d.wait(r"^signalled 1")
        wait_until(lambda: self.latency_knob(port) == 300, WAIT,
                   "production reloading latency_ms = 300")
        d.send("view latency_p99 2.0 0.25",
               "finding latency_p99 critical production")
        d.wait(r"^note action rollback: restore known-good snapshot")
        wait_until(lambda: self.latency_knob(port) == 0, WAIT,
                   "production rolled back again, within the cooldown")
        self.assertNotIn("rollback cooldown", "\n".join(d.seen))

    def test_failed_verification_holds_until_released(self):
        # soak 3 s: between two episodes below the bad config must not
        # soak into a known-good one
        cfg, port = base_config(self, self.conf,
                                "  reload: {signal: HUP}\n", soak="3s")
        d = Driver(self, cfg)
        d.wait("^ready")
        self.bad_deploy(d, port)
        d.send("view cpu 0.5", "finding cpu critical production")
        d.wait(r"^note outcome rollback applied")
        # the deviation does not come back within mitigation.verify
        d.wait(r"^note outcome rollback verify_failed: not recovered "
               r"within mitigation.verify \(3 s\): cpu deviation 0.5 over "
               r"threshold 0.1")
        d.wait(r"^note outcome automatic actions held")
        self.assertTrue(d.status()["held"])
        # the episode ends; another bad deploy: nothing is done, it is
        # audited as held (a rule with cooldown 0 fires once per episode)
        d.send("view cpu 0.01", "resolve cpu")
        d.wait(r"^note finding resolved: cpu")
        self.bad_deploy_again(d, port)
        d.send("view cpu 0.5", "finding cpu critical production")
        d.wait(r"^note outcome rollback held: automatic actions are held")
        self.assertEqual(self.conf_text(), "latency_ms = 400\n")
        self.assertEqual(self.latency_knob(port), 400)
        # a person acts; the next finding is acted on again
        d.send("release alice")
        d.wait(r"^released ok")
        self.assertFalse(d.status()["held"])
        d.forget()
        d.send("view cpu 0.01", "resolve cpu")
        d.wait(r"^note finding resolved: cpu")
        d.send("view cpu 0.5", "finding cpu critical production")
        d.wait(r"^note outcome rollback applied")
        self.assertEqual(self.conf_text(), "latency_ms = 0\n")

    def bad_deploy_again(self, d, port):
        self.set_conf("latency_ms = 400\n")
        d.send("changed", "signal HUP")
        wait_until(lambda: self.latency_knob(port) == 400, WAIT,
                   "production reloading latency_ms = 400")

    def test_dry_run_acts_on_nothing(self):
        rx = RecordingServer()
        self.addCleanup(rx.stop)
        cfg, port = base_config(
            self, self.conf, "  reload: {signal: HUP}\n",
            f"  dry_run: true\n  alert:\n    webhook: http://{rx.addr}/\n")
        d = Driver(self, cfg)
        d.wait("^ready")
        self.bad_deploy(d, port)
        d.send("view cpu 0.5", "finding cpu critical production")
        d.wait(r"^note action recommendation: rollback: restore known-good")
        d.wait(r"^note action recommendation: alert: critical alert "
               r"deviation/cpu")
        # several ticks: nothing may happen meanwhile
        later = d.status()["ticks"] + 5
        wait_until(lambda: d.status()["ticks"] >= later, WAIT,
                   "5 more ticks of the engine")
        self.assertEqual(self.conf_text(), "latency_ms = 250\n")
        self.assertEqual(self.latency_knob(port), 250)
        self.assertEqual(rx.count(), 0, "no alert left umbra")
        s = d.status()
        self.assertTrue(s["dry_run"])
        self.assertFalse(s["verifying"])
        self.assertEqual(s["actions"], 0)
        states = {l.split()[2] + " " + l.split()[3] for l in d.audit()
                  if l.split()[1] in ("action", "outcome")}
        self.assertEqual(states, {"rollback recommended", "rollback dry_run",
                                  "alert recommended", "alert dry_run",
                                  "scale skipped"})


class AlertmanagerTest(TestCase):
    """A real Alertmanager, started here on free loopback ports with a
    config written here, receives umbra's alert and its resolution."""

    def setUp(self):
        super().setUp()
        if not os.access(ALERTMANAGER, os.X_OK):
            self.skipTest(f"{ALERTMANAGER} not installed")
        self.rx = RecordingServer(name="receiver")
        self.addCleanup(self.rx.stop)
        self.am_port = free_port()
        amcfg = self.write("am.yml", (
            "route:\n  receiver: hook\n"
            "  group_by: [alertname, service, metric]\n"
            "  group_wait: 100ms\n  group_interval: 1s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n  - name: hook\n    webhook_configs:\n"
            f"      - url: http://{self.rx.addr}/\n"
            "        send_resolved: true\n"))
        self.am_log = open(os.path.join(self.tmp, "am.log"), "w")
        self.addCleanup(self.am_log.close)
        self.am = lib.start(
            [ALERTMANAGER, f"--config.file={amcfg}",
             f"--storage.path={self.tmp}/am-data",
             f"--web.listen-address=127.0.0.1:{self.am_port}",
             "--cluster.listen-address=", "--log.level=warn"],
            stderr=self.am_log)
        self.addCleanup(stop, self.am)

        def ready():
            if self.am.poll() is not None:
                raise AssertionError("Alertmanager exited: " +
                                     open(self.am_log.name).read())
            try:
                return get(f"127.0.0.1:{self.am_port}", "/-/ready",
                           timeout=1)[0] == 200
            except OSError:
                return False
        wait_until(ready, WAIT, "Alertmanager ready", interval=0.1)

    def am_alerts(self, service):
        st, body = get(f"127.0.0.1:{self.am_port}",
                       "/api/v2/alerts?filter=" +
                       urllib.parse.quote(f'service="{service}"'))
        self.assertEqual(st, 200)
        return json.loads(body)

    def notifications(self):
        out = []
        with self.rx.lock:
            for _, body in self.rx.requests:
                out.append(json.loads(body))
        return out

    def wait_for(self, fn, what):
        return wait_until(fn, WAIT, what, interval=0.1)

    def test_alert_received_and_resolved(self):
        conf = os.path.join(self.tmp, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "app.conf"), "w") as f:
            f.write("latency_ms = 0\n")
        cfg, port = base_config(
            self, conf, "",
            "  alert:\n"
            f"    alertmanager: http://127.0.0.1:{self.am_port}\n"
            "    labels: {team: e2e}\n")
        service = re.search(r"service: (\S+)", cfg).group(1)
        d = Driver(self, cfg)
        d.wait("^ready")
        d.send("view cpu 0.5", "finding cpu critical production")
        d.wait(r"^note alert alert sent: deviation/cpu critical")
        alerts = self.wait_for(lambda: self.am_alerts(service),
                               "the alert in Alertmanager")
        self.assertEqual(len(alerts), 1)
        a = alerts[0]
        self.assertEqual(a["labels"]["alertname"], "UmbraDeviation")
        self.assertEqual(a["labels"]["metric"], "cpu")
        self.assertEqual(a["labels"]["severity"], "critical")
        self.assertEqual(a["labels"]["side"], "production")
        self.assertEqual(a["labels"]["team"], "e2e")
        self.assertIn("cpu critical: deviation 0.5",
                      a["annotations"]["description"])
        self.assertIn("change config change", a["annotations"]["root_cause"])
        self.assertEqual(a["status"]["state"], "active")
        fired = self.wait_for(
            lambda: [n for n in self.notifications()
                     if n["status"] == "firing"],
            "Alertmanager's firing notification")
        self.assertEqual(fired[0]["alerts"][0]["labels"]["service"], service)
        # the deviation comes back: resolved
        d.send("view cpu 0.01", "resolve cpu")
        d.wait(r"^note alert alert resolved: deviation/cpu")
        self.wait_for(lambda: self.am_alerts(service) == [],
                      "the alert gone from Alertmanager's active alerts")
        resolved = self.wait_for(
            lambda: [n for n in self.notifications()
                     if n["status"] == "resolved"],
            "Alertmanager's resolved notification")
        self.assertEqual(resolved[0]["alerts"][0]["labels"]["metric"], "cpu")


    def test_a_proposal_soak_does_not_page(self):
        """Issue 23: the shadow's findings during a proposal's soak are
        its evidence: no alert reaches Alertmanager, during the soak or
        after it; a real finding next to them is alerted alone."""
        conf = os.path.join(self.tmp, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "app.conf"), "w") as f:
            f.write("latency_ms = 0\n")
        cfg, port = base_config(
            self, conf, "",
            "  alert:\n"
            f"    alertmanager: http://127.0.0.1:{self.am_port}\n")
        service = re.search(r"service: (\S+)", cfg).group(1)
        d = Driver(self, cfg)
        d.wait("^ready")
        d.send("shadow_test on", "view cpu 0.9",
               "finding cpu critical shadow")
        d.wait(r"^note finding during a proposal's soak \(the test's "
               r"evidence, not alerted\): cpu critical")
        d.send("shadow_test off")
        d.wait(r"^shadow_test off")
        # ticks after the soak, the finding still open
        t = d.status()["ticks"]
        wait_until(lambda: d.status()["ticks"] >= t + 5, WAIT,
                   "five ticks after the soak")
        self.assertEqual(self.am_alerts(service), [])
        d.send("view latency_p99 0.5", "finding latency_p99 critical "
               "production")
        d.wait(r"^note alert alert sent: deviation/latency_p99 critical")
        alerts = self.wait_for(lambda: self.am_alerts(service),
                               "the real alert in Alertmanager")
        self.assertEqual([a["labels"]["metric"] for a in alerts],
                         ["latency_p99"])
        self.assertNotIn("alert sent: deviation/cpu", "\n".join(d.seen))

    def test_sigterm_resolves_every_firing_alert(self):
        """Issue 22: a clean stop leaves nothing firing."""
        conf = os.path.join(self.tmp, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "app.conf"), "w") as f:
            f.write("latency_ms = 0\n")
        cfg, port = base_config(
            self, conf, "",
            "  alert:\n"
            f"    alertmanager: http://127.0.0.1:{self.am_port}\n")
        service = re.search(r"service: (\S+)", cfg).group(1)
        d = Driver(self, cfg)
        d.wait("^ready")
        d.send("view cpu 0.5", "finding cpu critical production",
               "view latency_p99 0.5",
               "finding latency_p99 critical production")
        d.wait(r"^note alert alert sent: deviation/cpu critical")
        d.wait(r"^note alert alert sent: deviation/latency_p99 critical")
        self.wait_for(lambda: len(self.am_alerts(service)) == 2,
                      "both alerts active in Alertmanager")
        # (Alertmanager tells of a resolution only for what it notified)
        self.wait_for(
            lambda: {a["labels"]["metric"] for n in self.notifications()
                     if n["status"] == "firing"
                     for a in n["alerts"]} == {"cpu", "latency_p99"},
            "firing notifications for both")
        d.p.send_signal(signal.SIGTERM)
        d.p.wait(timeout=WAIT)
        self.assertEqual(d.p.returncode, 0, d.log_text()[-2000:])
        self.wait_for(lambda: self.am_alerts(service) == [],
                      "no alert of the stopped umbra active")
        self.assertIn("alerts resolved at stop", d.log_text())

        def resolved_metrics():
            got = {a["labels"]["metric"] for n in self.notifications()
                   if n["status"] == "resolved" for a in n["alerts"]}
            return got if got == {"cpu", "latency_p99"} else None
        self.wait_for(resolved_metrics,
                      "resolved notifications for cpu and latency_p99")

def cgroup_writable():
    if os.geteuid() != 0:
        return "not root"
    try:
        from test_provision import cgroup_writable as cw
    except ImportError:
        return "test_provision not importable"
    return cw()


class StressTest(TestCase):
    def test_stress_finds_a_knee(self):
        why = cgroup_writable()
        if why:
            self.skipTest(why)
        port = free_port()
        cfg = self.write("s.yaml", (
            f"service: e2e-stress-{os.getpid()}\n"
            f"listen:\n  address: 127.0.0.1:{port}\n  workers: 1\n"
            f"production:\n"
            f"  command: [{TESTSVC}, --port, '{{port}}', --cpu-ms, '5']\n"
            f"  health: {{type: http, path: /healthz}}\n"
            f"  cpu_limit: 0.25\n"
            f"shadow:\n  ratio: 1\n  work_dir: {self.tmp}/shadow\n"
            f"mirror:\n  queue_requests: 64\n"
            # The knee must come from the CPU limit, not from a busy
            # host: 3 s steps carry 45 requests at x1 (20 needed), and
            # 300 ms is over what scheduling noise on a loaded 2-core
            # host adds, while a lever past the limit (x8: 0.6 cores of
            # 0.25; 1/4 of the CPU: 0.0625 for 0.075 needed) queues
            # requests for seconds within one step.
            f"mitigation:\n  stress:\n    step: 3s\n"
            f"    p99_target: 300ms\n"))
        r = run("stress", cfg, "--rate", "15", "--path", "/work", "--json",
                timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        out = json.loads(r.stdout)
        self.assertEqual(out["state"], "done")
        amp = out["levers"][0]
        self.assertEqual(amp["lever"], "amplify")
        self.assertTrue(amp["knee"], out)
        self.assertGreater(amp["capacity_lo"], 5)
        self.assertIn("headroom", amp)
        cpu = out["levers"][1]
        self.assertEqual(cpu["lever"], "cpu")
        self.assertTrue(cpu["knee"], out)
        self.assertGreater(out["capacity"], 0)
        over = [p for p in out["points"] if p["over"]]
        self.assertEqual(len(over), 2, "one knee per lever")
        # production was never squeezed or amplified: nothing is left
        self.assertNotIn("level=error", r.stderr)


class StressPathTest(TestCase):
    def test_default_path_is_one_the_service_answers(self):
        """Issue 23: without --path, a service that answers 404 at /
        gets its load at production.health.path, and says so; the shadow
        is not starved by a load of errors."""
        port = free_port()
        cfg = self.write("s.yaml", (
            f"service: e2e-stress-path-{os.getpid()}\n"
            f"listen:\n  address: 127.0.0.1:{port}\n"
            f"production:\n"
            f"  command: [{TESTSVC}, --port, '{{port}}']\n"
            f"  health: {{type: http, path: /healthz}}\n"
            f"shadow:\n  ratio: 1\n  work_dir: {self.tmp}/shadow\n"
            f"store:\n  path: {self.tmp}/d/u.db\n"
            f"mitigation:\n  stress: {{step: 2s, levers: [amplify], "
            f"max_amplification: 2}}\n"))
        r = run("stress", cfg, "--rate", "25", "--json", timeout=60,
                cwd=self.tmp)
        self.assertIn("answers 404 at /: the load asks for /healthz",
                      r.stderr)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        out = json.loads(r.stdout)
        self.assertEqual(out["state"], "done", out)


class SnapshotsCliTest(TestCase):
    def test_errors(self):
        conf = os.path.join(self.tmp, "conf")
        os.makedirs(conf)
        cfg = self.write("c.yaml", (
            "service: snapcli\nproduction:\n  upstreams: [127.0.0.1:1]\n"
            f"  config_dir: {conf}\nstore:\n  path: {self.tmp}/d/u.db\n"))
        r = run("snapshots", "list", cfg)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no snapshot store at", r.stderr)
        self.assertIn("umbra run takes the first snapshot at start",
                      r.stderr)
        r = run("snapshots", "frob", cfg)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown subcommand 'frob'", r.stderr)
        cfg2 = self.write("c2.yaml", (
            "service: snapcli\nproduction:\n  upstreams: [127.0.0.1:1]\n"))
        r = run("snapshots", "list", cfg2)
        self.assertEqual(r.returncode, 1)
        self.assertIn("production.config_dir is not set", r.stderr)
