#!/usr/bin/env python3
"""provision_change.py: the cost of a change to production's config dir
under `umbra run` (issue 18): a config dir of TOTAL files, changes of 1,
100, 1000 and 3000 of them at once (each a new value, written in place);
for each, the time from the write to the log line of the one snapshot
that covers it, per changed file, and the slowest /healthz answer of the
admin API probed every 100 ms meanwhile (the control loop's stall).
Medians of RUNS changes per size.

    UMBRA=build/umbra TOOLS=build/tools \
        python3 bench/provision_change.py [TOTAL] [RUNS]

Production and the shadow are tests/tools/testsvc (the shadow reads a
copy of the 3000 files, so drift compares both).
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

UMBRA = os.environ.get("UMBRA", "build/umbra")
TOOLS = os.environ.get("TOOLS", "build/tools")
TOTAL = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
SIZES = [s for s in (1, 100, 1000, 3000) if s <= TOTAL]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    tmp = tempfile.mkdtemp(prefix="umbra-bench-prov-")
    conf = os.path.join(tmp, "conf")
    for i in range(TOTAL):
        d = os.path.join(conf, f"d{i % 16}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05d}.conf"), "w") as f:
            f.write(f"key_{i} = 0\n" + "# padding\n" * 20)
    aport = free_port()
    cfg = os.path.join(tmp, "u.yaml")
    with open(cfg, "w") as f:
        f.write(f"service: bench-prov-{os.getpid()}\n"
                f"listen:\n  address: 127.0.0.1:{free_port()}\n"
                f"production:\n"
                f"  command: [{os.path.abspath(TOOLS)}/testsvc, --port, "
                f"'{{port}}']\n"
                f"  port: {free_port()}\n"
                f"  health: {{type: http, path: /healthz, interval: 200ms}}\n"
                f"  config_dir: {conf}\n"
                f"shadow:\n  work_dir: {tmp}/shadow\n"
                f"store:\n  path: {tmp}/data/umbra.db\n"
                f"api:\n  listen: 127.0.0.1:{aport}\n"
                f"drift:\n  interval: 1h\n"
                f"mitigation:\n  soak: 1h\n")
    log_path = os.path.join(tmp, "run.log")
    log = open(log_path, "w")
    p = subprocess.Popen([UMBRA, "run", cfg], stdout=log, stderr=log,
                         cwd=tmp, start_new_session=True)

    def log_text():
        with open(log_path) as f:
            return f.read()

    def wait(rx, after, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.compile(rx).search(log_text(), after)
            if m:
                return m
            if p.poll() is not None:
                raise SystemExit("umbra run exited:\n" + log_text()[-3000:])
            time.sleep(0.01)
        raise SystemExit(f"timeout waiting for {rx}\n" + log_text()[-3000:])

    try:
        wait(r'msg="running"', 0)
        wait(r'snapshot taken".*why=start', 0)
        wait(r'msg="replica up" side=shadow', 0)
        time.sleep(2)  # the first drift fingerprints: what changes are to
        probes = []
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    urllib.request.urlopen(
                        f"http://127.0.0.1:{aport}/healthz", timeout=30).read()
                    probes.append(time.monotonic() - t0)
                except OSError:
                    probes.append(float("inf"))
                time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))

        th = threading.Thread(target=probe, daemon=True)
        th.start()
        print("| files changed | per changed file (median) | change to snapshot "
              "| slowest /healthz | snapshots per change |")
        print("| --- | --- | --- | --- | --- |")
        value = 0
        for n in SIZES:
            per, total, worst, snaps = [], [], [], []
            for _ in range(RUNS):
                value += 1
                after = len(log_text())
                probes.clear()
                t0 = time.monotonic()
                for i in range(n):
                    with open(os.path.join(conf, f"d{i % 16}",
                                           f"f{i:05d}.conf"), "w") as f:
                        f.write(f"key_{i} = {value}\n" + "# padding\n" * 20)
                wait(r'msg="config snapshot taken"', after)
                dt = time.monotonic() - t0
                # let any later snapshot of the same change show up
                time.sleep(1.0)
                snaps.append(len(re.findall(r'msg="config snapshot taken"',
                                            log_text()[after:])))
                per.append(dt / n)
                total.append(dt)
                worst.append(max(probes) if probes else 0)
            print(f"| {n} | {statistics.median(per) * 1e3:.2f} ms | "
                  f"{statistics.median(total):.2f} s | "
                  f"{statistics.median(worst) * 1e3:.0f} ms | "
                  f"{statistics.median(snaps):.0f} |")
        stop.set()
    finally:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
        log.close()
        if os.environ.get("KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
