"""Issue 24 point 4: a capture that joins keep-alive connections in the
middle. tcpdump is started after the clients' connections are open and
busy; one client has a request in flight whose response comes only once
tcpdump listens, another is half-way through sending a request. The
pcap imports with every response paired with its own request (the
skipped responses and the half request counted as `midstream` loss) and
replays against the same service with 0 differences."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading

from lib import (RecordingServer, TestCase, read_http_message, run, start,
                 stop, wait_until)


class PathServer(RecordingServer):
    """A keep-alive HTTP/1.1 server whose answer depends only on the
    path (so a response paired with the wrong request is a difference):
    /big/N answers N KiB. /slow waits for `release` (set by the test)."""

    def __init__(self):
        self.release = threading.Event()
        super().__init__(name="path")

    @staticmethod
    def answer(path):
        m = re.match(rb"/big/(\d+)", path)
        if m:
            return b"[" + b",".join(b'"%s-%d"' % (path, i) for i in range(
                int(m.group(1)) * 64)) + b"]"
        return b'{"path":"%s","n":%d}' % (path, sum(path))

    def _serve(self, c, conn_no):
        f = c.makefile("rb")
        try:
            while not self.stopped:
                msg = read_http_message(f)
                if msg is None:
                    return
                path = msg[0].split(b" ")[1]
                if path == b"/slow":
                    self.release.wait(30)
                b = self.answer(path)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: "
                          b"application/json\r\nContent-Length: %d\r\n\r\n"
                          % len(b) + b)
        except OSError:
            return

    def stop(self):
        self.release.set()
        super().stop()


class Client(threading.Thread):
    """One keep-alive connection sending requests back to back, as many
    as it is given (give(n)): bursts a capture on a shared 2-core host
    keeps up with."""

    PATHS = [b"/small.txt", b"/api/users/42", b"/users/%d", b"/big/%d",
             b"/api/orders?page=%d"]

    def __init__(self, port, k):
        super().__init__(daemon=True)
        self.s = socket.create_connection(("127.0.0.1", port), 10)
        self.f = self.s.makefile("rb")
        self.k, self.done, self.halt = k, 0, threading.Event()
        self.quota = threading.Semaphore(0)
        self.error = None

    def give(self, n):
        for _ in range(n):
            self.quota.release()

    def run(self):
        try:
            i = self.k
            while not self.halt.is_set():
                if not self.quota.acquire(timeout=0.2):
                    continue
                p = self.PATHS[i % len(self.PATHS)]
                if b"%d" in p:
                    p = p % (i % 4)
                i += 1
                self.s.sendall(b"GET %s HTTP/1.1\r\nHost: svc\r\n\r\n" % p)
                head, body = read_http_message(self.f)
                assert body == PathServer.answer(p), (p, body[:60])
                self.done += 1
        except Exception as e:  # reported by the test
            self.error = e


class MidstreamCaptureTest(TestCase):
    def test_tcpdump_started_after_the_clients(self):
        if os.geteuid() != 0 or not shutil.which("tcpdump"):
            self.skipTest("needs root and tcpdump to capture on lo")
        srv = PathServer()
        self.addCleanup(srv.stop)
        clients = [Client(srv.port, k) for k in range(6)]
        for c in clients:
            c.start()
            c.give(3)

        def halt():
            for c in clients:
                c.halt.set()
            for c in clients:
                c.join(10)
        self.addCleanup(halt)
        # a request in flight, answered once tcpdump listens
        slow = socket.create_connection(("127.0.0.1", srv.port), 10)
        self.addCleanup(slow.close)
        slow.sendall(b"GET /slow HTTP/1.1\r\nHost: svc\r\n\r\n")
        # a request half sent
        half = socket.create_connection(("127.0.0.1", srv.port), 10)
        self.addCleanup(half.close)
        half.sendall(b"POST /echo HTTP/1.1\r\nHost: svc\r\n"
                     b"Content-Length: 10\r\n\r\nhello")
        wait_until(lambda: all(c.done >= 3 for c in clients), 20,
                   "clients busy")
        path = os.path.join(self.tmp, "mid.pcap")
        os.chmod(self.tmp, 0o777)  # tcpdump drops privileges
        errf = open(os.path.join(self.tmp, "tcpdump.log"), "w")
        self.addCleanup(errf.close)
        td = start(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-B",
                    "65536", "-s", "0", "-w", path,
                    f"tcp port {srv.port}"], stderr=errf)
        self.addCleanup(stop, td)
        wait_until(lambda: "listening" in open(errf.name).read(), 10,
                   "tcpdump listening")
        base = [c.done for c in clients]
        for c in clients:
            c.give(20)
        srv.release.set()
        half.sendall(b"world")
        sf, hf = slow.makefile("rb"), half.makefile("rb")
        self.assertEqual(read_http_message(sf)[1],
                         PathServer.answer(b"/slow"))
        self.assertIsNotNone(read_http_message(hf))
        # the same connections go on: their pairs must be right
        for s, f in ((slow, sf), (half, hf)):
            for p in (b"/small.txt", b"/api/users/42", b"/big/3"):
                s.sendall(b"GET %s HTTP/1.1\r\nHost: svc\r\n\r\n" % p)
                self.assertEqual(read_http_message(f)[1],
                                 PathServer.answer(p))
        wait_until(lambda: all(c.done >= b + 20 for c, b in
                               zip(clients, base)), 30, "traffic captured")
        halt()
        for c in clients:
            self.assertIsNone(c.error)
        # everything sent before the halt is on the wire and captured:
        # wait for the pcap to hold the last client's last response
        size = [0]

        def settled():
            n = os.path.getsize(path)
            same = n == size[0] and n > 0
            size[0] = n
            return same
        wait_until(settled, 10, "pcap written", interval=0.3)
        self.assertEqual(stop(td, sig=signal.SIGINT, grace=10), 0)
        tlog = open(errf.name).read()
        m = re.search(r"(\d+) packets dropped by kernel", tlog)
        if m and int(m.group(1)):
            self.skipTest(f"tcpdump itself dropped {m.group(1)} packets")
        cfg = self.write("m.yaml", "service: s\nproduction:\n  upstreams: "
                         f"[127.0.0.1:1]\nmask:\n  key_file: "
                         f"{self.tmp}/k.key\n")
        out = os.path.join(self.tmp, "mid.ucap")
        r = run("capture", "--pcap", path, "-w", out, "--config", cfg,
                "--port", str(srv.port))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("connections joined mid-stream (no SYN seen): 8",
                      r.stderr)
        m = re.search(r"requests seen: (\d+) = written (\d+) \+ filtered "
                      r"out (\d+) \+ lost (\d+)", r.stderr)
        seen, written, _, lost = (int(x) for x in m.groups())
        self.assertEqual(seen, written + lost)
        mid = re.search(r"midstream (\d+)", r.stderr)
        # the slow one's response and the half request, at least
        self.assertIsNotNone(mid, r.stderr)
        self.assertGreaterEqual(int(mid.group(1)), 2, r.stderr)
        self.assertGreaterEqual(written, 6 * 20 + 6)
        js = json.loads(run("capture", "--stats", out, "--format",
                            "json").stdout)
        self.assertEqual(js["lost"]["midstream"], int(mid.group(1)))
        # replay against the same service: no false difference
        srv.release.set()
        r = run("replay", out, "--target", srv.addr, "--speed", "max",
                "--format", "json", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual(rep["comparison"]["differed"], 0,
                         json.dumps(rep.get("examples"), indent=1))
        self.assertGreaterEqual(rep["comparison"]["compared"],
                                written - js["no_response"])
        self.assertEqual(rep["capture_lost"]["midstream"],
                         int(mid.group(1)))
        print(f"\n  seen {seen} = written {written} + lost {lost} "
              f"(midstream {mid.group(1)}); replay compared "
              f"{rep['comparison']['compared']}, differed "
              f"{rep['comparison']['differed']}")
