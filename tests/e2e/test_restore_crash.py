"""Crash safety of restores, end to end: production's 400-file config
directory is rolled back (a critical finding) and promoted (a candidate
snapshot) by the real engine (tests/tools/mitdrive), which is killed with
SIGKILL at a random step of the transaction (the txn_crash fault: seeded,
the seed printed; UMBRA_CRASH_SEED repeats a run). Each time it is
started again, and its start (mit_recover, as `umbra run`'s) finishes or
undoes the transaction. Afterwards the directory is, byte for byte, the
tree before or the target; no staging or temporary file is left under it
or beside it; the recovery says finished or undone (and which matches the
tree); the known-good mark never names another tree than the one that
soaked. The last round is recovered by `umbra run` itself, whose audit
in the store shows the outcome.

UMBRA_CRASH_POINTS sets the number of kill points (default 20: half
rollbacks, half promotions)."""
import json
import os
import random
import re
import subprocess
import time
import urllib.request

import lib
from lib import TOOLS, TestCase, free_port, run, stop
from test_mitigate import Driver

NFILES = 400
STEPS = 2 * NFILES + 20  # stage + switch + clean-up of 400 files, journal
WAIT = 20.0


def tree(conf):
    """Every file under conf: relative path -> (mode, bytes)."""
    out = {}
    for d, dirs, files in os.walk(conf):
        for f in files:
            p = os.path.join(d, f)
            st = os.lstat(p)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, conf)] = (st.st_mode & 0o7777,
                                                  fh.read())
    return out


def write_tree(conf, t):
    for rel in list(tree(conf)):
        if rel not in t:
            os.unlink(os.path.join(conf, rel))
    for rel, (mode, data) in t.items():
        p = os.path.join(conf, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)


def leftovers(top):
    bad = []
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            if "umbra-stage" in n or "umbra-tmp" in n:
                bad.append(os.path.join(d, n))
    return bad


class RestoreCrashTest(TestCase):
    def config(self, soak):
        port = free_port()
        return (f"service: e2e-crash-{os.getpid()}-{port}\n"
                f"listen:\n  address: 127.0.0.1:{free_port()}\n"
                f"production:\n"
                f"  config_dir: {self.conf}\n"
                f"  upstreams: [127.0.0.1:{port}]\n"
                f"  reload: {{command: [/bin/true]}}\n"
                f"shadow:\n  work_dir: {self.tmp}/shadow\n"
                f"analysis:\n  interval: 200ms\n  velocity_window: 2s\n"
                f"store:\n  path: {self.tmp}/data/umbra.db\n"
                f"api:\n  listen: 127.0.0.1:{self.aport}\n"
                f"mitigation:\n  soak: {soak}\n  verify: 60s\n"
                f"  cooldown: 0s\n  scale: {{enabled: false}}\n"
                f"  snapshots: {{dir: {self.tmp}/snaps, keep: 50}}\n")

    def known_good_ids(self):
        with open(os.path.join(self.tmp, "snaps", "index")) as f:
            lines = f.read().splitlines()[1:]
        return {l.split()[0] for l in lines if l.split()[3] != "0"}

    def test_kill_during_rollback_and_promotion(self):
        seed = int(os.environ.get("UMBRA_CRASH_SEED",
                                  str(random.randrange(1 << 30))))
        points = int(os.environ.get("UMBRA_CRASH_POINTS", "20"))
        print(f"\nrestore crash test: seed {seed}, {points} kill points "
              f"(UMBRA_CRASH_SEED={seed} repeats it)")
        rng = random.Random(seed)
        self.aport = free_port()
        self.conf = os.path.join(self.tmp, "conf")
        good = {f"d{i % 4}/f{i:03d}.conf": (0o644, f"value = good {i}\n"
                                            .encode()) for i in range(NFILES)}
        bad = {f"d{i % 4}/f{i:03d}.conf": (0o644, f"value = bad {i}\n"
                                           .encode()) for i in range(NFILES)}
        del bad["d1/f001.conf"]
        bad["d9/new.conf"] = (0o600, b"added by the bad deploy\n")
        os.makedirs(self.conf)
        write_tree(self.conf, good)
        # the good tree soaks into known-good
        d = Driver(self, self.config("1s"))
        d.wait("^ready")
        d.wait(r"^note snapshot .* is known-good")
        d.close()
        good_ids = self.known_good_ids()
        self.assertEqual(len(good_ids), 1)
        cfg = self.write("crash.yaml", self.config("1h"))
        kinds = {"finished": 0, "undone": 0}
        for i in range(points):
            kind = "rollback" if i % 2 == 0 else "promote"
            k = rng.randint(1, STEPS)
            if tree(self.conf) != bad:
                write_tree(self.conf, bad)
            env = dict(os.environ, UMBRA_FAULTS=f"txn_crash=-{k}")
            d = Driver(self, self.config("1h"), env=env)
            d.wait("^ready")
            d.send("changed")
            if kind == "rollback":
                d.send("view latency_p99 2.0 0.25",
                       "finding latency_p99 critical production")
            else:
                d.send("promote good")
            deadline = time.monotonic() + WAIT
            while d.p.poll() is None and time.monotonic() < deadline:
                if any(re.search(rf"^note outcome {kind} applied", l)
                       for l in d.seen):
                    break
                try:
                    d.seen.append(d.lines.get(timeout=0.05))
                except Exception:
                    pass
            killed = d.p.poll() == -9
            if not killed:
                self.assertTrue(any(re.search(rf"^note outcome {kind} "
                                              r"applied", l)
                                    for l in d.seen),
                                f"point {i} (k={k}): neither killed nor "
                                f"applied:\n" + "\n".join(d.seen[-20:]))
            d.close()
            # started again: recovery first
            last = i == points - 1
            if last:
                outcome = self.recover_with_umbra_run(cfg, kind)
            else:
                d = Driver(self, self.config("1h"))
                line = d.wait(r"^recovered ")
                d.wait("^ready")
                d.close()
                m = re.match(rf"^recovered {kind} \d+ (finished|undone) ",
                             line)
                self.assertIsNotNone(m, line)
                outcome = m.group(1)
            now = tree(self.conf)
            self.assertIn(now, (good, bad), f"point {i} (k={k}): mixed tree")
            self.assertEqual(now == good, outcome == "finished",
                             f"point {i} (k={k}, {kind}): {outcome} but the "
                             f"tree is {'target' if now == good else 'before'}")
            self.assertEqual(leftovers(self.tmp), [], f"point {i} (k={k})")
            self.assertEqual(self.known_good_ids(), good_ids,
                             f"point {i}: known-good moved")
            kinds[outcome] += 1
        print(f"restore crash test: {kinds['finished']} finished, "
              f"{kinds['undone']} undone")

    def recover_with_umbra_run(self, cfg, kind):
        """`umbra run` recovers at start; its store's audit says how."""
        log = open(os.path.join(self.tmp, "run.log"), "w")
        self.addCleanup(log.close)
        p = lib.start([lib.UMBRA, "run", cfg], stdout=log, stderr=log,
                      cwd=self.tmp)
        try:
            token_path = os.path.join(self.tmp, "umbra-data", "api.token")
            deadline = time.monotonic() + WAIT
            rows = []
            while time.monotonic() < deadline:
                time.sleep(0.2)
                if not os.path.exists(token_path):
                    continue
                with open(token_path) as f:
                    token = f.read().strip()
                try:
                    req = urllib.request.Request(
                        f"http://127.0.0.1:{self.aport}/api/v1/actions",
                        headers={"Authorization": "Bearer " + token})
                    with urllib.request.urlopen(req, timeout=5) as r:
                        rows = json.loads(r.read())
                except OSError:
                    continue
                done = [a for a in rows if a["kind"] == kind and
                        a["outcome"] in ("finished", "undone")]
                if done:
                    self.assertIn("at start: transaction", done[0]["reason"]
                                  + json.dumps(done[0]))
                    return done[0]["outcome"]
            with open(os.path.join(self.tmp, "run.log")) as f:
                self.fail(f"no recovery in the audit: {rows}\n"
                          + f.read()[-3000:])
        finally:
            stop(p)
