"""Issue 24 point 5: accounting that adds up. The summaries of `umbra
capture` (pcap, GoReplay), `umbra capture --stats` and `umbra replay`
say seen = written + filtered out + lost by reason, with what masking
refused counted among the losses; replay reports the capture's own
losses; and `umbra capture` creates nothing (no key in ./umbra-data/, no
output) before it knows it can run."""
import json
import os
import re
import subprocess

from lib import UMBRA, RecordingServer, TestCase, run
from test_capture import Conn, gor_item, pcap_bytes

BAD = (b"POST /bad HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
       b"Content-Length: 9\r\n\r\n{not json")
GOOD = b"GET /ok/%d HTTP/1.1\r\nHost: g\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
       b"Content-Length: 2\r\n\r\n{}"


def seen_line(stderr):
    m = re.search(r"requests seen: (\d+) = written (\d+) \+ filtered out "
                  r"(\d+) \+ lost (\d+)", stderr)
    assert m, stderr
    return tuple(int(x) for x in m.groups())


class CaptureAccountingTest(TestCase):
    def cfg(self):
        return self.write("m.yaml", "service: s\nproduction:\n  upstreams: "
                          f"[127.0.0.1:1]\nmask:\n  key_file: "
                          f"{self.tmp}/k.key\n")

    def test_pcap_summary_counts_mask_refusals(self):
        pkts = []
        for k in range(6):
            c = Conn(pkts, 41000 + k, 1700000000 + k)
            c.handshake()
            q = BAD if k % 3 == 0 else GOOD % k
            pkts.extend(c.segments(0, q, 1400))
            pkts.extend(c.segments(1, RESP, 1400))
            c.fin()
        p = os.path.join(self.tmp, "x.pcap")
        with open(p, "wb") as f:
            f.write(pcap_bytes(pkts))
        out = os.path.join(self.tmp, "x.ucap")
        r = run("capture", "--pcap", p, "-w", out, "--config", self.cfg())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("4 exchanges written", r.stderr)
        self.assertEqual(seen_line(r.stderr), (6, 4, 0, 2))
        self.assertIn("requests lost: 2 (mask 2)", r.stderr)
        self.assertNotIn("counted", r.stderr.split("requests lost")[1]
                         .split("\n")[0])
        js = json.loads(run("capture", "--stats", out, "--format",
                            "json").stdout)
        self.assertEqual(js["exchanges"], 4)
        self.assertEqual(js["lost"]["mask"], 2)
        self.assertEqual(js["requests_seen"], 6)
        txt = run("capture", "--stats", out).stdout
        self.assertIn("seen       6 requests = 4 recorded + 2 lost", txt)
        # replay says what the capture lost
        srv = RecordingServer(name="x", body=b"{}")
        self.addCleanup(srv.stop)
        r = run("replay", out, "--target", srv.addr, "--speed", "max")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertIn("capture    6 requests seen = 4 recorded + 2 lost "
                      "when captured (mask 2)", r.stdout)
        r = run("replay", out, "--target", srv.addr, "--speed", "max",
                "--format", "json")
        js = json.loads(r.stdout)
        self.assertEqual(js["capture_lost"]["mask"], 2)
        self.assertEqual(js["read"], 4)

    def test_gor_summary_with_filter(self):
        g = os.path.join(self.tmp, "in.gor")
        t = 1700000000000000000
        with open(g, "wb") as f:
            for i in range(8):
                gid = b"%024x" % (i + 1)
                q = BAD if i % 4 == 0 else GOOD % i
                f.write(gor_item(ord("1"), gid, t + i * 1000, -1, q))
                f.write(gor_item(ord("2"), gid, t + i * 1000 + 5, 5, RESP))
        out = os.path.join(self.tmp, "g.ucap")
        r = run("capture", "--gor", g, "-w", out, "--config", self.cfg(),
                "--filter", "path=/ok/1")
        self.assertEqual(r.returncode, 0, r.stderr)
        # the filter comes first: what it leaves out is not masked
        self.assertEqual(seen_line(r.stderr), (8, 1, 7, 0))
        r = run("capture", "--gor", g, "-w", out, "--config", self.cfg(),
                "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(seen_line(r.stderr), (8, 6, 0, 2))
        self.assertIn("requests lost: 2 (mask 2)", r.stderr)

    def test_nothing_created_before_it_can_run(self):
        cwd = os.path.join(self.tmp, "cwd")
        os.makedirs(cwd)
        with open(os.path.join(cwd, "junk.pcap"), "wb") as f:
            f.write(b"not a capture at all")
        attempts = [
            ["--from-proxy", "--socket", os.path.join(self.tmp, "no.sock")],
            ["--pcap", os.path.join(self.tmp, "missing.pcap")],
            ["--pcap", "junk.pcap"],
            ["--gor", os.path.join(self.tmp, "missing.gor")],
            ["--file", os.path.join(self.tmp, "missing.ucap")],
        ]
        for a in attempts:
            p = subprocess.run([UMBRA, "capture", *a, "-w", "out.ucap"],
                               cwd=cwd, capture_output=True, timeout=30)
            self.assertNotEqual(p.returncode, 0, a)
            self.assertEqual(sorted(os.listdir(cwd)), ["junk.pcap"],
                             (a, p.stderr))
        # an existing output is refused before the key is made
        open(os.path.join(cwd, "out.ucap"), "w").close()
        g = os.path.join(self.tmp, "e.gor")
        open(g, "wb").close()
        p = subprocess.run([UMBRA, "capture", "--gor", g, "-w", "out.ucap"],
                           cwd=cwd, capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"exists", p.stderr)
        self.assertEqual(sorted(os.listdir(cwd)), ["junk.pcap", "out.ucap"])
