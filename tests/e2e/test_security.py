"""Least privilege (issue 19), as an attacker in the shadow would see it.
`umbra run` as root starts production (tests/tools/testsvc) and, as the
shadow, a probe that tries to read umbra's masking key, API token and
store and production's data directory from inside the shadow's process;
each must fail with EACCES. Every service process must show no_new_privs,
an empty bounding set unless granted, a non-root uid for the shadow, and
none of umbra's environment. Also: the files umbra makes are private, a
FIFO named as the config is refused at once, and an API time out of
int64's range is refused naming the field."""
import errno
import json
import os
import pwd
import stat
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from lib import TOOLS, UMBRA, TestCase, free_port
from test_provision import Umbra

TESTSVC = os.path.join(TOOLS, "testsvc")
WAIT = 10.0
CAP_NET_BIND_SERVICE = 10

# The shadow: answers /healthz, and on /probe tries each path in argv
# (f:FILE to read, d:DIR to list) and answers {path: "read" or errno}.
PROBE = r'''
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        res = {}
        if self.path == "/probe":
            for arg in sys.argv[2:]:
                kind, p = arg.split(":", 1)
                try:
                    if kind == "d":
                        os.listdir(p)
                    else:
                        with open(p, "rb") as f:
                            f.read(1)
                    res[p] = "read"
                except OSError as e:
                    res[p] = e.errno
        body = json.dumps(res).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


def status(pid):
    """/proc/PID/status as {field: value}."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return [e.decode(errors="replace") for e in f.read().split(b"\0")
                if e]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def shadow_user_known():
    try:
        pwd.getpwnam("umbra-shadow")
        return True
    except KeyError:
        return False


@unittest.skipUnless(os.geteuid() == 0,
                     "needs root: umbra switches users only as root")
class LeastPrivilegeTest(TestCase):
    def test_the_shadow_holds_no_secret_and_services_hold_no_privilege(self):
        self.write("conf/svc.conf", "cpu_ms = 0\nlatency_ms = 0\n")
        probe = self.write("probe.py", PROBE)
        data = os.path.join(self.tmp, "proddata")
        os.makedirs(data, mode=0o700)
        os.chmod(data, 0o700)
        secret = self.write("proddata/customers.db", "alice@example.com\n",
                            mode=0o600)
        ud = os.path.join(self.tmp, "umbra-data")
        targets = [f"f:{ud}/mask.key", f"f:{ud}/api.token",
                   f"f:{ud}/umbra.db", f"d:{ud}", f"d:{data}",
                   f"f:{secret}"]
        aport = free_port()
        args = ", ".join(json.dumps(t) for t in targets)
        cfg = (f"service: sec-{os.getpid()}\n"
               f"listen:\n  address: 127.0.0.1:{free_port()}\n"
               f"api:\n  listen: 127.0.0.1:{aport}\n"
               f"production:\n"
               f'  command: [{TESTSVC}, --port, "{{port}}", --config, '
               f'"{{config_dir}}/svc.conf"]\n'
               f"  config_dir: conf\n  data_dir: proddata\n"
               f"  health: {{type: http, path: /healthz, "
               f"interval: 200ms}}\n"
               f"shadow:\n"
               f'  command: [/usr/bin/python3, {probe}, "{{port}}", {args}]\n'
               f"  capabilities: [CAP_NET_BIND_SERVICE]\n")
        os.environ["UMBRA_E2E_SECRET"] = "must-not-leak"
        os.environ["E2E_OTHER_SECRET"] = "must-not-leak-either"
        try:
            u = Umbra(self, cfg)
        finally:
            del os.environ["UMBRA_E2E_SECRET"]
            del os.environ["E2E_OTHER_SECRET"]
        _, ppid = u.up("production", timeout=WAIT)
        saddr, spid = u.up("shadow", timeout=WAIT)

        # From inside the shadow: every secret is out of reach (EACCES).
        with urllib.request.urlopen(f"http://{saddr}/probe",
                                    timeout=10) as r:
            got = json.loads(r.read())
        for t in targets:
            path = t.split(":", 1)[1]
            self.assertEqual(got.get(path), errno.EACCES,
                             f"the shadow reading {path}: {got.get(path)}")

        # Who each service runs as and what it holds.
        shadow_uid = pwd.getpwnam("umbra-shadow").pw_uid \
            if shadow_user_known() else pwd.getpwnam("nobody").pw_uid
        st = status(spid)
        self.assertEqual(st["Uid"].split(), [str(shadow_uid)] * 4)
        self.assertNotEqual(st["Gid"].split()[0], "0")
        self.assertEqual(st["NoNewPrivs"], "1")
        granted = 1 << CAP_NET_BIND_SERVICE
        for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
            self.assertEqual(int(st[k], 16), granted, f"shadow {k}")
        pst = status(ppid)
        self.assertEqual(pst["NoNewPrivs"], "1")
        for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
            self.assertEqual(int(pst[k], 16), 0, f"production {k}")

        # Their environment: the spec's and the allow-list, never umbra's.
        for pid, side in ((ppid, "production"), (spid, "shadow")):
            env = environ(pid)
            self.assertIn(f"UMBRA_SIDE={side}", env)
            leaked = [e for e in env if "must-not-leak" in e or
                      (e.startswith("UMBRA_") and
                       not e.startswith("UMBRA_SIDE="))]
            self.assertEqual(leaked, [], f"{side}: {env}")
        self.assertIn("USER=" + pwd.getpwuid(shadow_uid).pw_name,
                      environ(spid))

        # umbra's files are private; the shadow's are its own.
        self.assertEqual(mode(ud), 0o700)
        for f in ("mask.key", "api.token", "umbra.db"):
            self.assertEqual(mode(os.path.join(ud, f)), 0o600, f)
        for f in ("umbra.db-wal", "umbra.db-shm"):
            p = os.path.join(ud, f)
            if os.path.exists(p):
                self.assertEqual(mode(p), 0o600, f)
        work = os.path.join(self.tmp, "umbra-shadow")
        for d in ("config", "data"):
            s = os.stat(os.path.join(work, d))
            self.assertEqual(s.st_uid, shadow_uid, d)
            self.assertEqual(stat.S_IMODE(s.st_mode), 0o700, d)

        # The proxy's worker threads run under the seccomp filter
        # (listen.sandbox); the control thread, which forks, does not.
        filtered = {}
        for tid in os.listdir(f"/proc/{u.proc.pid}/task"):
            try:
                ts = status(f"{u.proc.pid}/task/{tid}")
            except OSError:
                continue
            filtered[tid] = ts.get("Seccomp")
        self.assertEqual(filtered.get(str(u.proc.pid)), "0", filtered)
        self.assertIn("2", filtered.values(), filtered)

        # An API time out of int64's range is refused, naming the field.
        with open(os.path.join(ud, "api.token")) as f:
            token = f.read().strip()
        for field in ("start", "end"):
            req = urllib.request.Request(
                f"http://127.0.0.1:{aport}/api/v1/events",
                data=json.dumps({"type": "note", "text": "x",
                                 field: 1e308}).encode(),
                headers={"Authorization": f"Bearer {token}",
                         "Content-Type": "application/json"})
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(req, timeout=10)
            self.assertEqual(cm.exception.code, 400)
            self.assertIn(f"{field}: out of range",
                          cm.exception.read().decode())
        self.assertEqual(u.stop(), 0)

    def test_a_readable_secret_stops_umbra_before_anything_runs(self):
        self.write("conf/svc.conf", "cpu_ms = 0\n")
        self.write("umbra-data/umbra.db", "", mode=0o644)
        os.chmod(os.path.join(self.tmp, "umbra-data"), 0o700)
        cfg = self.write("u.yaml", (
            f"service: sec2-{os.getpid()}\n"
            f"listen:\n  address: 127.0.0.1:{free_port()}\n"
            f"api:\n  listen: 127.0.0.1:{free_port()}\n"
            f"production:\n"
            f'  command: [{TESTSVC}, --port, "{{port}}"]\n'))
        r = subprocess.run([UMBRA, "run", cfg], capture_output=True,
                           text=True, timeout=30, cwd=self.tmp)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("umbra.db", r.stderr)
        self.assertIn("accessible by group or others", r.stderr)


class LoaderTest(TestCase):
    def test_a_fifo_config_is_refused_at_once(self):
        fifo = os.path.join(self.tmp, "umbra.yaml")
        os.mkfifo(fifo)
        r = subprocess.run([UMBRA, "check-config", fifo], capture_output=True,
                           text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a regular file", r.stderr)
        self.assertIn(fifo, r.stderr)
