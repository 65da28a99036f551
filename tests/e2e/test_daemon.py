"""The daemon as a whole (`umbra run`): it measures both sides, stores the
points, compares them and raises findings, and shows it all on the admin
API: token auth, status, /metrics (checked with promtool and scraped by a
real Prometheus), events posted by a deploy pipeline, the dashboard."""
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from lib import (TOOLS, UMBRA, TestCase, free_port, start, stop, wait_port,
                 wait_until)

TESTSVC = os.path.join(TOOLS, "testsvc")
# named for this test process: the replicas' cgroups and network
# namespace are named after the service (umbra-SERVICE), and another
# run of these tests on the host (another checkout's make check) must
# not share them: its umbra, stopping, would kill our replicas
SERVICE = f"daemon-{os.getpid()}"


def get(url, token=None, data=None, timeout=10):
    req = urllib.request.Request(url, data=data)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode()


class Load(threading.Thread):
    """Steady requests through umbra until stopped."""

    def __init__(self, port, path="/work"):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}{path}"
        self.halt = threading.Event()
        self.ok = 0

    def run(self):
        while not self.halt.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
                    self.ok += 1
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)  # back off; the load's pace decides nothing
            time.sleep(0.005)  # pacing: a steady load, not a flood


class DaemonTest(TestCase):
    def start_umbra(self, shadow_cpu_ms="0.3", extra="",
                    ignore="[Date, X-Side]"):
        self.write("conf/svc.conf", "cpu_ms = 0.3\nbody_bytes = 64\n")
        self.write("sconf/svc.conf", f"cpu_ms = {shadow_cpu_ms}\n"
                   "body_bytes = 64\n")
        self.lport, self.aport = free_port(), free_port()
        cfg = self.write("u.yaml", f"""service: {SERVICE}
listen:
  address: 127.0.0.1:{self.lport}
production:
  command: [{TESTSVC}, --port, "{{port}}", --config, "{{config_dir}}/svc.conf"]
  config_dir: conf
  health: {{type: http, path: /healthz, interval: 200ms}}
shadow:
  ratio: 1
  config_dir: sconf
mirror:
  compare:
    ignore_headers: {ignore}
analysis:
  interval: 250ms
  warmup: 2s                 # the test's changes come within seconds
api:
  listen: 127.0.0.1:{self.aport}
{extra}""")
        self.log = open(os.path.join(self.tmp, "umbra.log"), "w")
        self.addCleanup(self.log.close)
        self.p = start([UMBRA, "run", cfg], stderr=self.log, cwd=self.tmp)
        wait_port(self.aport, timeout=15, proc=self.p)
        wait_port(self.lport, timeout=15, proc=self.p)
        with open(os.path.join(self.tmp, "umbra-data", "api.token")) as f:
            self.token = f.read().strip()
        self.assertEqual(os.stat(os.path.join(
            self.tmp, "umbra-data", "api.token")).st_mode & 0o777, 0o600)
        self.api = f"http://127.0.0.1:{self.aport}"
        self.load = Load(self.lport)
        self.load.start()
        self.addCleanup(self.load.halt.set)

    def status(self):
        return json.loads(get(self.api + "/api/v1/status", self.token)[1])

    def wait_status(self, pred, timeout=30):
        last = {}

        def matched():
            last["s"] = self.status()
            return last["s"] if pred(last["s"]) else None
        try:
            return wait_until(matched, timeout, "the status to match",
                              interval=0.25)
        except AssertionError as e:
            self.fail(f"{e}: {json.dumps(last['s'])[:2000]}")

    def test_api_metrics_events_dashboard(self):
        self.start_umbra()
        # liveness needs no token; everything else does
        self.assertEqual(get(self.api + "/healthz")[0], 200)
        with self.assertRaises(urllib.error.HTTPError) as e:
            get(self.api + "/api/v1/status")
        self.assertEqual(e.exception.code, 401)
        with self.assertRaises(urllib.error.HTTPError) as e:
            get(self.api + "/api/v1/status", "wrong-token-xxxxxxxx")
        self.assertEqual(e.exception.code, 401)
        s = self.wait_status(
            lambda s: s["production"]["replicas_up"] == 1 and
            s["shadow"]["replicas_up"] == 1 and s["proxy"]["mirrored"] > 20
            and "cpu" in s.get("analysis", {}))
        self.assertGreater(s["requests"], 20)

        # the exposition passes promtool
        code, text = get(self.api + "/metrics", self.token)
        self.assertEqual(code, 200)
        for name in (f'umbra_cpu_cores{{service="{SERVICE}",'
                     'side="production"}',
                     "umbra_proxy_requests_total", "umbra_mirror_dropped_"
                     "total", "umbra_deviation_ratio", "umbra_requests_total"):
            self.assertIn(name, text)
        r = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # a deploy marker from a pipeline, listed back
        body = json.dumps({"type": "deploy", "side": "production",
                           "text": "v2.3.1 rolled out"}).encode()
        self.assertEqual(get(self.api + "/api/v1/events", self.token,
                             data=body)[0], 201)
        with self.assertRaises(urllib.error.HTTPError) as e:
            get(self.api + "/api/v1/events", self.token,
                data=b'{"type": "party"}')
        self.assertEqual(e.exception.code, 400)
        wait_until(lambda: any(
            e["text"] == "v2.3.1 rolled out" for e in json.loads(
                get(self.api + "/api/v1/events", self.token)[1])),
            what="the posted event listed", interval=0.2)

        # the dashboard (token in the query, for a browser)
        code, html = get(self.api + "/?token=" + self.token)
        self.assertEqual(code, 200)
        self.assertIn("<svg", html)
        self.assertIn("v2.3.1 rolled out", html)

        self.load.halt.set()
        self.p.send_signal(15)
        self.assertEqual(self.p.wait(timeout=30), 0)

    def test_a_regressed_shadow_is_a_finding_with_its_cause(self):
        # the shadow's config costs 8x the CPU per request
        self.start_umbra(shadow_cpu_ms="2.4")
        found = wait_until(lambda: [f for f in json.loads(get(
            self.api + "/api/v1/findings", self.token)[1])
            if f["metric"] == "cpu"], 60, "a cpu finding", interval=0.5)
        ev = found[0]["evidence"]
        self.assertEqual(ev["mover"], "shadow")
        # over its threshold when it opened (how far over depends on what
        # each request costs besides the burn: parsing, a sanitizer)
        self.assertGreater(ev["deviation"], ev["threshold"])
        # the differing config file is named as a cause
        causes = " ".join(c["subject"] for c in ev["root_cause"])
        self.assertIn("svc.conf", causes)
        self.load.halt.set()
        self.p.send_signal(15)
        self.assertEqual(self.p.wait(timeout=30), 0)

    def test_instance_names_are_learned_not_differences(self):
        """testsvc names its side in X-Side (production / shadow): left
        out of the comparison from the first pair while it keeps to that,
        and learned as an identity field by the warm-up's end (2 s and
        20 pairs), so no pair differs."""
        self.start_umbra(ignore="[Date]")
        s = self.wait_status(
            lambda s: {"name": "x-side", "how": "learned"} in
            s.get("identity_fields", []) and s["proxy"]["matched"] >= 50)
        self.assertIn("x-side (learned)", s["identity"])
        self.assertEqual(s["proxy"]["differed"], 0, json.dumps(s["proxy"]))
        # X-Served-By is "testsvc" on both sides: compared, not learned
        self.assertNotIn("x-served-by", json.dumps(s["identity_fields"]))

    def test_prometheus_scrapes_the_daemon(self):
        self.start_umbra()
        self.wait_status(lambda s: s["proxy"]["requests"] > 10)
        self.write("token", self.token, mode=0o600)
        pport = free_port()
        self.write("prometheus.yml", f"""global:
  scrape_interval: 500ms
scrape_configs:
  - job_name: umbra
    authorization:
      credentials_file: {os.path.join(self.tmp, "token")}
    static_configs:
      - targets: ['127.0.0.1:{self.aport}']
""")
        prom = start(["prometheus",
                      "--config.file=" + os.path.join(self.tmp,
                                                      "prometheus.yml"),
                      "--storage.tsdb.path=" + os.path.join(self.tmp, "tsdb"),
                      f"--web.listen-address=127.0.0.1:{pport}",
                      "--log.level=warn"])
        self.addCleanup(stop, prom)
        wait_port(pport, timeout=20, proc=prom)
        url = f"http://127.0.0.1:{pport}/api/v1/query?" + urllib.parse.urlencode(
            {"query": f'umbra_proxy_requests_total{{service="{SERVICE}"}}'})

        def scraped():
            try:
                res = json.loads(get(url)[1])["data"]["result"]
            except urllib.error.HTTPError as e:
                self.assertEqual(e.code, 503, "only 'not ready yet' is ok")
                return None
            return res and float(res[0]["value"][1]) > 0
        try:
            wait_until(scraped, 30, "Prometheus scraping umbra",
                       interval=0.25)
        except AssertionError as e:
            targets = get(f"http://127.0.0.1:{pport}/api/v1/targets")[1]
            raise AssertionError(f"{e}; targets: {targets[:2000]}") \
                from None
        self.load.halt.set()
        self.p.send_signal(15)
        self.assertEqual(self.p.wait(timeout=30), 0)
