"""The commands that talk to a running daemon through its admin API
(`umbra status`, `findings`, `actions`, `events list|add`, `timeline`,
`release`): one real `umbra run` with testsvc on free loopback ports,
its shadow's config 8x the CPU per request so that findings and the
engine's decisions appear within seconds, shared by the tests of
DaemonClientTest; then the failures: no daemon, a wrong token, bad
flags."""
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

from lib import (TOOLS, UMBRA, TestCase, free_port, run, start, stop,
                 wait_port, wait_until)

TESTSVC = os.path.join(TOOLS, "testsvc")
# named for this test process: the replicas' cgroups and network
# namespace are named after the service (umbra-SERVICE), and another
# run of these tests on the host (another checkout's make check) must
# not share them: its umbra, stopping, would kill our replicas
SERVICE = f"clitest-{os.getpid()}"


def config(tmp, lport, aport, token_file="umbra-data/api.token",
           name="u.yaml"):
    """Writes a daemon's config into tmp; returns its path."""
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(f"""service: {SERVICE}
listen:
  address: 127.0.0.1:{lport}
production:
  command: [{TESTSVC}, --port, "{{port}}", --config, "{{config_dir}}/svc.conf"]
  config_dir: conf
  health: {{type: http, path: /healthz, interval: 200ms}}
shadow:
  ratio: 1
  config_dir: sconf
mirror:
  compare:
    ignore_headers: [Date, X-Side]
analysis:
  interval: 250ms
  warmup: 2s                 # the test's changes come within seconds
api:
  listen: 127.0.0.1:{aport}
  token_file: {token_file}
""")
    return path


class Load(threading.Thread):
    """Steady requests through umbra until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/work"
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)  # back off; the load's pace decides nothing
            time.sleep(0.005)  # pacing: a steady load, not a flood


WAIT = 30.0  # seconds the daemon may take to show what a test waits for


class DaemonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="umbra-e2e-")
        cls.tmp = tmp = cls._tmp.name
        os.chmod(tmp, 0o711)  # the shadow's user passes through (lib.py)
        for d, cpu in (("conf", "0.3"), ("sconf", "2.4")):
            os.makedirs(os.path.join(tmp, d))
            with open(os.path.join(tmp, d, "svc.conf"), "w") as f:
                f.write(f"cpu_ms = {cpu}\nbody_bytes = 64\n")
        cls.lport, cls.aport = free_port(), free_port()
        cls.cfg = config(tmp, cls.lport, cls.aport)
        cls.log = open(os.path.join(tmp, "umbra.log"), "w")
        cls.p = start([UMBRA, "run", cls.cfg], stderr=cls.log, cwd=tmp)
        try:
            wait_port(cls.aport, timeout=15, proc=cls.p)
            wait_port(cls.lport, timeout=15, proc=cls.p)
        except AssertionError:
            cls.tearDownClass()
            raise
        # a follower of the timeline from the start (test_timeline...)
        r = run("timeline", cls.cfg, "--json", cwd=tmp)
        cls.follow_after = json.loads(r.stdout)["last"]
        cls.follow_out = open(os.path.join(tmp, "follow.out"), "w")
        cls.follower = start([UMBRA, "timeline", cls.cfg, "--follow",
                              "--after", str(cls.follow_after)],
                             stdout=cls.follow_out, cwd=tmp)
        cls.load = Load(cls.lport)
        cls.load.start()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "load", None):
            cls.load.halt.set()
            cls.load.join(timeout=10)
        if getattr(cls, "follower", None):
            stop(cls.follower)
            cls.follow_out.close()
        stop(cls.p)
        cls.log.close()
        cls._tmp.cleanup()

    def umbra(self, *args, ok=(0,)):
        r = run(*args, cwd=self.tmp)
        self.assertIn(r.returncode, ok, r.stdout + r.stderr)
        return r

    def test_status_shows_sides_and_the_engine(self):
        # (the shadow follows production's count if the policy scales it)
        r = wait_until(lambda: (lambda r: r if re.search(
            r"shadow      [1-9]\d* replicas? up", r.stdout) else None)(
            self.umbra("status", self.cfg, ok=(0, 3))), WAIT, "the shadow up",
            interval=0.25)
        self.assertRegex(r.stdout, "^" + SERVICE + r": (OK|ATTENTION|DEGRADED)")
        self.assertRegex(r.stdout,
                         r"production  \d+ replicas? up, \d+ desired")
        self.assertRegex(r.stdout, r"uptime      \S+ \(\d+ analysis ticks")
        self.assertIn("stress test idle", r.stdout)
        self.assertRegex(r.stdout, r"findings    (none open|\d+ open: )")
        # exit 3 exactly when the summary says the daemon needs a person
        self.assertEqual(r.returncode == 3, "ATTENTION" in r.stdout or
                         "DEGRADED" in r.stdout)
        j = self.umbra("status", self.cfg, "--json", ok=(0, 3))
        st = json.loads(j.stdout)
        self.assertEqual(st["service"], SERVICE)
        self.assertGreaterEqual(st["shadow"]["replicas_up"], 1)
        self.assertGreaterEqual(st["production"]["replicas_up"], 1)
        self.assertIn(st["mitigation"]["stress"], ("idle", "running",
                                                   "done", "aborted"))

    def test_replay_announced_into_the_shadow_is_an_event(self):
        """`umbra replay --announce shadow` tells the daemon of --config
        before the first request: a replay event on the shadow spanning
        --duration, which the analysis judges as such (unit tests)."""
        sep = b"\n\xf0\x9f\x90\xb5\xf0\x9f\x99\x88\xf0\x9f\x99\x89\n"
        gid = b"c" * 24
        g = os.path.join(self.tmp, "r.gor")
        with open(g, "wb") as f:
            f.write(b"1 %s 1700000000000000000 -1\n" % gid +
                    b"GET /work HTTP/1.1\r\nHost: x\r\n\r\n" + sep)
            f.write(b"2 %s 1700000000000005000 5000\n" % gid +
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" +
                    sep)
        plain = os.path.join(self.tmp, "plain.yaml")
        with open(plain, "w") as f:
            f.write("service: plain\nproduction:\n  upstreams: "
                    "[127.0.0.1:1]\nmask: {enabled: false}\n")
        ucap = os.path.join(self.tmp, "r.ucap")
        self.umbra("capture", "--gor", g, "-w", ucap, "--config", plain)
        target = f"127.0.0.1:{self.lport}"
        r = self.umbra("replay", ucap, "--target", target, "--config",
                       self.cfg, "--announce", "shadow", ok=(2,))
        self.assertIn("--announce needs --config", r.stderr)
        self.umbra("replay", ucap, "--target", target, "--config", self.cfg,
                   "--announce", "shadow", "--duration", "90s")
        evs = wait_until(lambda: json.loads(self.umbra(
            "events", "list", self.cfg, "--kind", "replay",
            "--json").stdout), 15, "the replay event listed")
        e = evs[0]
        self.assertEqual((e["type"], e["side"]), ("replay", "shadow"))
        self.assertIn("umbra replay", e["text"])
        self.assertIn("r.ucap", e["text"])

    def test_events_add_then_list(self):
        r = self.umbra("events", "add", self.cfg, "--kind", "deploy",
                       "--deploy-version", "v9.8.7", "--message", "canary out",
                       "--side", "production")
        self.assertRegex(r.stdout, r"^recorded deploy on production at "
                         r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: v9.8.7: canary"
                         r" out\n$")
        r = self.umbra("events", "add", self.cfg, "-k", "note", "-m",
                       "looked at it", "--start", "-2m", "--json")
        rec = json.loads(r.stdout)
        self.assertEqual(rec["status"], "recorded")
        self.assertEqual(rec["event"]["type"], "note")
        self.assertEqual(rec["event"]["side"], "both")
        # the store writes in batches: the list shows them shortly
        listed = wait_until(lambda: (lambda r: r if "canary out" in r.stdout
                                     and "looked at it" in r.stdout
                                     else None)(
            self.umbra("events", "list", self.cfg)), 15,
            "the added events listed", interval=0.25)
        lines = listed.stdout.splitlines()
        self.assertRegex(lines[0], r"^START \(UTC\)\s+END\s+TYPE\s+SIDE\s+"
                         r"TEXT$")
        dep = [l for l in lines if "canary out" in l][0]
        self.assertRegex(dep, r"deploy\s+production\s+v9.8.7: canary out$")
        # newest first: the note started two minutes earlier
        self.assertLess(lines.index(dep),
                        [i for i, l in enumerate(lines)
                         if "looked at it" in l][0])
        evs = json.loads(self.umbra("events", "list", self.cfg,
                                    "--json").stdout)
        self.assertIn({"type": "deploy", "side": "production",
                       "text": "v9.8.7: canary out"},
                      [{k: e[k] for k in ("type", "side", "text")}
                       for e in evs])
        only = json.loads(self.umbra("events", "list", self.cfg, "--kind",
                                     "note", "--json").stdout)
        self.assertTrue(only)
        self.assertEqual({e["type"] for e in only}, {"note"})
        one = json.loads(self.umbra("events", "list", self.cfg, "--limit",
                                    "1", "--json").stdout)
        self.assertEqual(len(one), 1)

    def test_findings_and_actions_tables(self):
        def cpu_finding():
            r = self.umbra("findings", self.cfg)
            return r if re.search(r"\scpu\s+(critical|high)\s", r.stdout) \
                else None
        r = wait_until(cpu_finding, WAIT, "a cpu finding listed",
                       interval=0.25)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^TIME \(UTC\)\s+METRIC\s+SEVERITY\s+"
                         r"SUMMARY$")
        for l in lines[1:]:
            self.assertRegex(l, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  \S+\s+"
                             r"(low|medium|high|critical)\s+\S")
        rows = json.loads(self.umbra("findings", self.cfg, "--json").stdout)
        self.assertEqual(len(rows), len(lines) - 1)
        self.assertEqual([f["time"] for f in rows],
                         sorted((f["time"] for f in rows), reverse=True))
        cpu = [f for f in rows if f["metric"] == "cpu"][0]
        self.assertGreater(cpu["evidence"]["deviation"], 0.1)
        self.assertIn(cpu["evidence"]["mover"], ("production", "shadow"))
        self.assertEqual(len(json.loads(self.umbra(
            "findings", self.cfg, "--limit", "1", "--json").stdout)), 1)
        # --open: at most one per metric, each open in the status
        st = json.loads(self.umbra("status", self.cfg, "--json",
                                   ok=(0, 3)).stdout)
        opened = json.loads(self.umbra("findings", self.cfg, "--open",
                                       "--json").stdout)
        metrics = [f["metric"] for f in opened]
        self.assertEqual(len(metrics), len(set(metrics)))
        for m in metrics:
            self.assertIn(m, st["analysis"])
        # a time as --since: everything since the epoch of this test
        since = self.umbra("findings", self.cfg, "--since", "2000-01-01"
                           "T00:00:00Z")
        self.assertIn("cpu", since.stdout)

        # the engine decided on the cpu finding: a chain in the audit
        def chain():
            r = self.umbra("actions", self.cfg)
            return r if re.search(r"decision\s+rule default-", r.stdout) \
                and re.search(r"\n\s+action\s+\S", r.stdout) else None
        a = wait_until(chain, WAIT, "a decision and an action listed",
                       interval=0.25)
        self.assertRegex(a.stdout.splitlines()[0],
                         r"^TIME \(UTC\)\s+RECORD\s+WHAT")
        self.assertRegex(a.stdout, r"\n\s+outcome\s+\S")
        arows = json.loads(self.umbra("actions", self.cfg, "--json").stdout)
        self.assertTrue({"decision", "action", "outcome"} <=
                        {x["detail"]["record"] for x in arows})
        self.assertEqual(len(json.loads(self.umbra(
            "actions", self.cfg, "--limit", "2", "--json").stdout)), 2)

    def test_release_when_nothing_is_held(self):
        r = self.umbra("release", self.cfg, "--note", "checked by hand")
        self.assertEqual(r.stdout, "nothing is held: automatic actions are "
                         "running; nothing to release\n")
        j = json.loads(self.umbra("release", self.cfg, "--json").stdout)
        self.assertEqual(j, {"status": "not held"})

    def test_timeline_and_follow(self):
        tl = json.loads(self.umbra("timeline", self.cfg, "--json").stdout)
        last = tl["last"]
        self.assertEqual([n["seq"] for n in tl["notes"]],
                         list(range(last - len(tl["notes"]) + 1, last + 1)))
        # the follower started with the daemon, before the engine had
        # anything to note: what it printed came while it followed
        path = os.path.join(self.tmp, "follow.out")

        def followed():
            with open(path) as f:
                t = f.read()
            return t if re.search(r"\n\s*\d+  \S+Z  finding ", t) \
                else None
        wait_until(followed, WAIT, "a finding printed by the follower",
                   interval=0.25)
        os.killpg(self.follower.pid, signal.SIGINT)
        self.assertEqual(self.follower.wait(timeout=10), 0)
        lines = open(path).read().splitlines()
        self.assertRegex(lines[0], r"^\s+SEQ  TIME \(UTC\)\s+KIND\s+WHAT$")
        seqs = [int(l.split()[0]) for l in lines[1:]]
        self.assertTrue(seqs)
        self.assertGreater(seqs[0], self.follow_after)
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        # --after: only the notes after the one named
        tail = self.umbra("timeline", self.cfg, "--after",
                          str(seqs[0])).stdout.splitlines()
        self.assertEqual(int(tail[1].split()[0]), seqs[0] + 1)

    def test_wrong_token_is_refused(self):
        other = os.path.join(self.tmp, "other.token")
        with open(other, "w") as f:
            f.write("ab" * 32 + "\n")
        os.chmod(other, 0o600)
        cfg = config(self.tmp, self.lport, self.aport, token_file=other,
                     name="other.yaml")
        for args in (["status", cfg], ["findings", cfg],
                     ["events", "add", cfg, "-k", "note", "-m", "x"]):
            r = run(*args, cwd=self.tmp)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("answered 401", r.stderr)
            self.assertIn("not the running daemon's", r.stderr)
            self.assertEqual(r.stdout, "")


class NoDaemonTest(TestCase):
    def setUp(self):
        super().setUp()
        self.aport = free_port()
        self.url = f"http://127.0.0.1:{self.aport}"

    def test_no_daemon_names_the_url(self):
        # never started: no token yet
        cfg = config(self.tmp, free_port(), self.aport)
        for args in (["status", cfg], ["findings", cfg], ["actions", cfg],
                     ["events", "list", cfg], ["timeline", cfg],
                     ["release", cfg]):
            r = run(*args, cwd=self.tmp)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            # said as what it is, not as a daemon that does not answer
            self.assertIn(f"umbra {args[0]}: the API token file ", r.stderr)
            self.assertIn("api.token does not exist", r.stderr)
            self.assertNotIn("no daemon answers", r.stderr)
        # a token from an earlier run, nothing listening now
        self.write("umbra-data/api.token", "cd" * 32 + "\n", mode=0o600)
        for args in (["status", cfg], ["events", "add", cfg, "-k", "note",
                                       "-m", "x"]):
            r = run(*args, cwd=self.tmp)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stderr.strip(), f"umbra {args[0]}: no daemon "
                             f"answers on {self.url} (is `umbra run` going "
                             "with this config?)")

    def test_bad_usage_exits_2_before_asking(self):
        cfg = config(self.tmp, free_port(), self.aport)
        cases = [
            (["findings", cfg, "--limt", "3"], "did you mean '--limit'?"),
            (["findings", cfg, "--since", "0"], "bad --since '0'"),
            (["findings", cfg, "--since", "yesterday"],
             "bad --since 'yesterday'"),
            (["actions", cfg, "--limit", "0"], "bad --limit '0'"),
            (["events", "add", cfg, "--kind", "party", "-m", "x"],
             "unknown --kind 'party'"),
            (["events", "add", cfg, "--kind", "deploy"], "needs --message"),
            (["events", "list", cfg, "--message", "x"],
             "--message is for 'events add'"),
            (["events", "tail", cfg], "unknown subcommand 'tail'"),
            (["timeline", cfg, "--after", "x"], "bad --after 'x'"),
            (["status"], "missing argument"),
        ]
        for args, msg in cases:
            r = run(*args, cwd=self.tmp)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
            self.assertIn(msg, r.stderr)

    def test_help_lists_the_client_commands(self):
        r = run("--help")
        for c in ("status", "findings", "actions", "events", "timeline",
                  "release"):
            self.assertRegex(r.stdout, rf"\n  {c}\s+\S")
            h = run("help", c)
            self.assertEqual(h.returncode, 0)
            self.assertIn(f"usage: umbra {c} ", h.stdout)
