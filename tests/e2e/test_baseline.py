"""The baseline umbra runs itself (`shadow.baseline.enabled` without
`shadow.baseline.upstreams`): a copy of production (its command, its
config files) on its own port, in the proxy's baseline pool, so that a
shadow difference the baseline shows too is classed noise and a real
config difference of the shadow is classed differ. The baseline follows
production's config files and stops with umbra."""
import json
import os
import signal
import urllib.request

from lib import (TOOLS, UMBRA, TestCase, free_port, run, start, wait_port,
                 wait_until)

TESTSVC = os.path.join(TOOLS, "testsvc")


def get(url, token=None, timeout=10):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def proc_strings(pid, what):
    with open(f"/proc/{pid}/{what}", "rb") as f:
        return [w.decode() for w in f.read().split(b"\0") if w]


class BaselineTest(TestCase):
    PROD_CONF = "cpu_ms = 0\nbody_bytes = 64\n"

    def start_umbra(self):
        self.write("conf/svc.conf", self.PROD_CONF)
        # the shadow's real change: longer /work bodies
        self.write("sconf/svc.conf", "cpu_ms = 0\nbody_bytes = 65\n")
        self.lport, self.aport = free_port(), free_port()
        # named for this test process: the replicas' cgroups and network
        # namespace are named after the service (umbra-SERVICE), and
        # another run of these tests on the host must not share them
        self.cfg = self.write("u.yaml", f"""service: base-{os.getpid()}
listen:
  address: 127.0.0.1:{self.lport}
production:
  command: [{TESTSVC}, --port, "{{port}}", --config, "{{config_dir}}/svc.conf"]
  config_dir: conf
  health: {{type: http, path: /healthz, interval: 200ms}}
shadow:
  ratio: 1
  config_dir: sconf
  baseline:
    enabled: true
mirror:
  compare:
    ignore_headers: [Date, X-Side]
analysis:
  interval: 250ms
  warmup: 2s                 # the test's changes come within seconds
api:
  listen: 127.0.0.1:{self.aport}
""")
        self.log_path = os.path.join(self.tmp, "umbra.log")
        self.log = open(self.log_path, "w")
        self.addCleanup(self.log.close)
        self.p = start([UMBRA, "run", self.cfg], stderr=self.log, cwd=self.tmp)
        wait_port(self.aport, timeout=15, proc=self.p)
        wait_port(self.lport, timeout=15, proc=self.p)
        with open(os.path.join(self.tmp, "umbra-data", "api.token")) as f:
            self.token = f.read().strip()
        self.api = f"http://127.0.0.1:{self.aport}"

    def status(self):
        return json.loads(get(self.api + "/api/v1/status", self.token)[1])

    def wait_status(self, pred, timeout=30):
        last = {}

        def matched():
            last["s"] = self.status()
            return last["s"] if pred(last["s"]) else None
        try:
            return wait_until(matched, timeout, "the status to match",
                              interval=0.1)
        except AssertionError as e:
            self.fail(f"{e}: {json.dumps(last['s'])[:2000]}")

    def wait_for(self, pred, what, timeout=20):
        return wait_until(pred, timeout, what, interval=0.1)

    def requests(self, path, n):
        for _ in range(n):
            self.assertEqual(
                get(f"http://127.0.0.1:{self.lport}{path}")[0], 200)

    def baseline_config(self, pid):
        """The config file the baseline process was started with."""
        argv = proc_strings(pid, "cmdline")
        path = argv[argv.index("--config") + 1]
        with open(path) as f:
            return path, f.read()

    def test_baseline_runs_production_config_and_classes_noise(self):
        self.start_umbra()
        s = self.wait_status(
            lambda s: s.get("baseline", {}).get("replicas_up") == 1 and
            s["shadow"]["replicas_up"] == 1 and
            s["production"]["replicas_up"] == 1)
        bpid = s["baseline"]["pids"][0]
        self.assertNotIn(bpid, s["production"]["pids"] + s["shadow"]["pids"])
        self.assertIn("UMBRA_SIDE=baseline", proc_strings(bpid, "environ"))
        path, text = self.baseline_config(bpid)
        self.assertEqual(text, self.PROD_CONF)  # production's, not sconf
        self.assertIn("/umbra-shadow/baseline/config/", path)

        # the shadow's config change: differ (the baseline matches)
        self.requests("/work", 10)
        s = self.wait_status(lambda s: s["proxy"]["differed"] >= 10)
        self.assertEqual(s["proxy"]["noise"], 0)
        # /echo names the side in its body: every copy differs from
        # production, the baseline's too: noise
        self.requests("/echo", 10)
        s = self.wait_status(lambda s: s["proxy"]["noise"] >= 10)
        self.assertEqual(s["proxy"]["differed"], 10)

        # production's config changes: the baseline is restarted on it
        new = "cpu_ms = 0\nbody_bytes = 65\n"
        self.write("conf/svc.conf", new)
        s = self.wait_status(
            lambda s: s.get("baseline", {}).get("replicas_up") == 1 and
            s["baseline"]["pids"][0] != bpid)
        bpid = s["baseline"]["pids"][0]
        self.assertEqual(self.baseline_config(bpid)[1], new)
        self.assertTrue(alive(bpid))
        # production keeps its process (testsvc reads its file on SIGHUP
        # only): 64 bytes; shadow and baseline now both answer 65: noise
        noise = s["proxy"]["noise"]
        self.requests("/work", 5)
        s = self.wait_status(lambda s: s["proxy"]["noise"] >= noise + 5)
        self.assertEqual(s["proxy"]["differed"], 10)

        # SIGTERM: the baseline stops with everything else
        os.kill(self.p.pid, signal.SIGTERM)
        self.assertEqual(self.p.wait(timeout=20), 0)
        self.wait_for(lambda: not alive(bpid),
                      "the baseline stopping with umbra")
        with open(self.log_path) as f:
            log = f.read()
        self.assertIn("restarting the baseline", log)

    def test_check_config_reports_baseline_port_active(self):
        path = self.write("a.yaml", "service: api\nproduction:\n"
                          f"  command: [{TESTSVC}, --port, \"{{port}}\"]\n"
                          "api:\n  dashboard: false\nshadow:\n"
                          "  baseline:\n    enabled: true\n    port: 9000\n")
        r = run("check-config", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("shadow.baseline.port", r.stderr)
