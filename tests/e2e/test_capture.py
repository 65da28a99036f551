"""Capture and replay (issue 10): the proxy's tap, pcap import (a real
tcpdump of curl and wrk on loopback, and generated captures with
reordering, retransmissions and a lost segment), GoReplay files, crash
safety, and replay (byte-for-byte requests, speed, filters, Host, loop,
comparison). Real processes on loopback, bounded in time."""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading

from lib import (TOOLS, UMBRA, RecordingServer, TestCase, dead_port,
                 free_port, http_exchange, read_http_message, run, start,
                 stop, testsvc, wait_port, wait_until)

SEP = b"\n\xf0\x9f\x90\xb5\xf0\x9f\x99\x88\xf0\x9f\x99\x89\n"


def stats(path, *extra):
    r = run("capture", "--stats", path, "--format", "json", *extra)
    return r, (json.loads(r.stdout) if r.stdout.strip() else None)


def lost(js):
    return sum(v for k, v in js["lost"].items() if k != "response_lost")


def wait_file(path, pred, what, timeout=10.0):
    """`umbra capture --stats` of a capture file being written (the
    capture client flushes every record it has before it waits for more),
    until pred(stats) holds; returns those stats. A torn last record
    (mid-write) reads as an error after the whole ones: counted as they
    are, the next poll sees more."""
    def ready():
        _, js = stats(path)
        return js if js and pred(js) else None
    return wait_until(ready, timeout, what)


def log_has(path, text):
    with open(path) as f:
        return text in f.read()


# Requests sent through the proxy and checked byte for byte after replay:
# odd header case and order, a query, a binary body, chunked with
# extensions and trailers (stored de-chunked; trailers are not kept).
REQUESTS = [
    (b"GET /users/7?x=1&y=%20z HTTP/1.1\r\nHost: svc.example\r\n"
     b"X-Custom: a  b\r\nACCEPT: */*\r\nx-lower: 1\r\n\r\n", b""),
    (b"POST /orders HTTP/1.1\r\nHost: svc.example\r\nContent-Type: "
     b"application/octet-stream\r\nContent-Length: 6\r\n\r\n",
     b"\x00\x01\xffab\n"),
    (b"PUT /items/9 HTTP/1.1\r\nHost: svc.example\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n", b"hello world"),
    (b"DELETE /items/9 HTTP/1.1\r\nHost: svc.example\r\n"
     b"Cookie: a=1; b=2\r\n\r\n", b""),
    (b"PATCH /items/9 HTTP/1.1\r\nHost: svc.example\r\nContent-Length: 2"
     b"\r\n\r\n", b"{}"),
    (b"GET /ten HTTP/1.0\r\n\r\n", b""),
]


def wire(head, body):
    if b"chunked" in head:
        return head + b"5;ext=1\r\n" + body[:5] + b"\r\n" + \
            b"%x\r\n" % (len(body) - 5) + body[5:] + b"\r\n0\r\nT: 1\r\n\r\n"
    return head + body


def plain(tc):
    """A config with masking off: for the tests of the format's fidelity
    (masking rewrites values and reframes chunked bodies)."""
    return tc.write("plain.yaml", "service: plain\nproduction:\n"
                    "  upstreams: [127.0.0.1:1]\nmask: {enabled: false}\n")


class Tap:
    """`umbra proxy` with a tap socket, and a capture client on it."""

    def __init__(self, tc, prod_addr, extra_config=""):
        self.tc = tc
        self.sock = os.path.join(tc.tmp, "tap.sock")
        self.port = free_port()
        cfg = tc.write("proxy.yaml", f"""service: tapsvc
production:
  upstreams: [{prod_addr}]
listen:
  address: 127.0.0.1:{self.port}
  workers: 2
capture:
  tap_socket: {self.sock}
{extra_config}""")
        self.log = open(os.path.join(tc.tmp, "proxy.log"), "w")
        tc.addCleanup(self.log.close)
        self.p = start([UMBRA, "proxy", "--config", cfg,
                        "--stats-interval", "200ms"], stderr=self.log)
        wait_port(self.port, proc=self.p)
        wait_until(lambda: os.path.exists(self.sock), what="the tap socket")
        self.tc.assertEqual(os.stat(self.sock).st_mode & 0o777, 0o600)

    def attach(self, out, *args):
        self.caplog = os.path.join(self.tc.tmp, "capture.log")
        self.capf = open(self.caplog, "w")
        self.tc.addCleanup(self.capf.close)
        self.cap = start([UMBRA, "capture", "--from-proxy", "--socket",
                          self.sock, "-w", out, *args], stderr=self.capf)

        def attached():
            self.tc.assertIsNone(self.cap.poll(), open(self.caplog).read())
            return log_has(self.caplog, "attached")
        wait_until(attached, what="the capture client attached")
        # the proxy copies exchanges that begin once it knows
        wait_until(lambda: log_has(self.log.name, "capture client attached"),
                   what="the proxy's 'capture client attached'")

    def detach(self, sig=signal.SIGINT):
        rc = stop(self.cap, sig=sig, grace=10)
        self.capf.flush()
        return rc, open(self.caplog).read()


class TapRoundTripTest(TestCase):
    def test_proxy_capture_replay_byte_for_byte(self):
        prod = RecordingServer(name="svc")
        self.addCleanup(prod.stop)
        # byte for byte: masking (which reframes chunked bodies and
        # rewrites values) is off, and the file says so
        tap = Tap(self, prod.addr, "mask: {enabled: false}\n")
        out = os.path.join(self.tmp, "tap.ucap")
        tap.attach(out, "--config", plain(self))
        # one keep-alive connection, in order
        s = socket.create_connection(("127.0.0.1", tap.port), 10)
        f = s.makefile("rb")
        for head, body in REQUESTS[:-1]:
            s.sendall(wire(head, body))
            self.assertIsNotNone(read_http_message(f))
        s.close()
        r = http_exchange(tap.port, wire(*REQUESTS[-1]))
        self.assertEqual(len(r), 1)
        wait_file(out, lambda js: js["exchanges"] == len(REQUESTS),
                  f"{len(REQUESTS)} exchanges in {out}")
        rc, log = tap.detach()
        self.assertEqual(rc, 0, log)
        self.assertIn(f"{len(REQUESTS)} exchanges written", log)
        self.assertIn("requests lost: 0", log)
        r, js = stats(out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(js["exchanges"], len(REQUESTS))
        self.assertEqual(js["source"], "proxy")
        self.assertEqual(js["service"], "tapsvc")
        self.assertEqual(js["masking"], "none")
        # replay to a second server: heads byte for byte, bodies equal
        again = RecordingServer(name="svc")
        self.addCleanup(again.stop)
        r = run("replay", out, "--target", again.addr, "-C", "1",
                "--speed", "max", "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        rep = json.loads(r.stdout)
        self.assertEqual(rep["sent"], len(REQUESTS))
        self.assertEqual(rep["responses"], len(REQUESTS))
        self.assertEqual(again.count(), len(REQUESTS))
        for (head, body), (ghead, gbody) in zip(REQUESTS, again.requests):
            self.assertEqual(ghead, head)
            self.assertEqual(gbody, body)
        # the same server behind: every response matches the recording
        self.assertEqual(rep["comparison"]["matched"], len(REQUESTS))
        self.assertEqual(rep["comparison"]["differed"], 0)
        self.assertEqual(tap.tc.assertIsNone(None), None)
        self.assertEqual(stop(tap.p), 0)
        self.assertFalse(os.path.exists(tap.sock), "socket left behind")

    def test_replay_reports_differences(self):
        prod = RecordingServer(name="svc")
        self.addCleanup(prod.stop)
        tap = Tap(self, prod.addr)
        out = os.path.join(self.tmp, "d.ucap")
        tap.attach(out)
        for i in range(5):
            http_exchange(tap.port, b"GET /users/%d HTTP/1.1\r\nHost: h\r\n"
                          b"\r\n" % i)
        wait_file(out, lambda js: js["exchanges"] == 5, f"5 exchanges in {out}")
        self.assertEqual(tap.detach()[0], 0)
        other = RecordingServer(name="changed")
        self.addCleanup(other.stop)
        r = run("replay", out, "--target", other.addr, "--speed", "max",
                "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        rep = json.loads(r.stdout)
        c = rep["comparison"]
        self.assertEqual(c["differed"], 5)
        self.assertEqual(c["reasons"]["json"], 5)
        self.assertIn("$.served_by", c["examples"][0]["paths"])
        # ignoring the path that changed makes them match
        cfg = self.write("cmp.yaml", "service: x\nproduction:\n  upstreams: "
                         "[127.0.0.1:1]\nmirror:\n  compare:\n"
                         "    ignore_json_paths: [$.served_by]\n")
        r = run("replay", out, "--target", other.addr, "--speed", "max",
                "--format", "json", "--config", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["comparison"]["matched"], 5)

    def test_slow_client_costs_drops_never_waits(self):
        """A capture client that stops reading: production is served in
        full, and every exchange is either written or counted lost."""
        body = b"z" * 65536
        prod = RecordingServer(name="svc", body=body)
        self.addCleanup(prod.stop)
        tap = Tap(self, prod.addr, "  tap_queue: 16\n  tap_bytes: 1MiB\n")
        out = os.path.join(self.tmp, "slow.ucap")
        tap.attach(out)
        os.kill(tap.cap.pid, signal.SIGSTOP)
        n = 0
        s = socket.create_connection(("127.0.0.1", tap.port), 10)
        f = s.makefile("rb")
        for i in range(300):
            s.sendall(b"GET /big/%d HTTP/1.1\r\nHost: h\r\n\r\n" % i)
            h, b = read_http_message(f)
            self.assertIn(b"200", h)
            self.assertEqual(b, body)
            n += 1
        s.close()
        os.kill(tap.cap.pid, signal.SIGCONT)
        # every exchange is in the file or counted lost in it (loss
        # records go out once a second)
        wait_file(out, lambda js: js["exchanges"] + lost(js) == n,
                  f"{n} exchanges written or counted lost in {out}")
        rc, log = tap.detach()
        self.assertEqual(rc, 0, log)
        written = int(re.search(r"(\d+) exchanges written", log).group(1))
        m = re.search(r"requests lost: (\d+)", log)
        dropped = int(m.group(1))
        self.assertGreater(dropped, 0, log)
        self.assertRegex(log, r"tap_(queue|bytes) \d+")
        self.assertEqual(written + dropped, n, log)
        r, js = stats(out)
        self.assertEqual(js["exchanges"], written)
        self.assertEqual(lost(js), dropped, "the file says what it lacks")

    def test_kill9_every_record_before_the_cut_reads_back(self):
        prod = testsvc(self)
        tap = Tap(self, f"127.0.0.1:{prod}")
        out = os.path.join(self.tmp, "k.ucap")
        tap.attach(out)
        sent = []
        stop_ev = threading.Event()

        def load():
            s = socket.create_connection(("127.0.0.1", tap.port), 10)
            f = s.makefile("rb")
            i = 0
            while not stop_ev.is_set():
                body = b"x" * (i % 3000)
                s.sendall(b"POST /echo?seq=%d HTTP/1.1\r\nHost: h\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (i, len(body),
                                                             body))
                read_http_message(f)
                sent.append(i)
                i += 1
            s.close()

        t = threading.Thread(target=load)
        t.start()
        # the cut comes mid-load, with records on disk
        wait_until(lambda: len(sent) > 50, what="50 exchanges sent")
        wait_file(out, lambda js: js["exchanges"] > 10,
                  f"10 exchanges in {out}")
        os.kill(tap.cap.pid, signal.SIGKILL)
        tap.cap.wait(5)
        stop_ev.set()
        t.join(10)
        self.assertGreater(len(sent), 50)
        # the file reads back to its last whole record; any torn tail
        # is named by byte offset
        gor = os.path.join(self.tmp, "k.gor")
        r = run("capture", "--file", out, "--format", "gor", "-w", gor)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        if r.returncode == 1:
            self.assertRegex(r.stderr, r"k\.ucap: byte \d+: ")
        seqs = [int(x) for x in re.findall(rb"POST /echo\?seq=(\d+) HTTP",
                                           open(gor, "rb").read())]
        self.assertGreater(len(seqs), 10)
        # in order, none missing, none damaged: a prefix of what was sent
        self.assertEqual(seqs, list(range(len(seqs))))
        for m in re.finditer(rb"\?seq=(\d+) HTTP/1.1\r\nHost: h\r\n"
                             rb"Content-Length: (\d+)\r\n\r\n(x*)\n",
                             open(gor, "rb").read()):
            self.assertEqual(int(m.group(2)), int(m.group(1)) % 3000)
            self.assertEqual(len(m.group(3)), int(m.group(2)))
        # cut the file mid-record: the reader stops there and says where
        data = open(out, "rb").read()
        cut = os.path.join(self.tmp, "cut.ucap")
        with open(cut, "wb") as f:
            f.write(data[:len(data) - 7])
        r, js = stats(cut)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(js["error"], r"cut\.ucap: byte \d+: truncated")
        self.assertIn(js["exchanges"], (len(seqs) - 1, len(seqs)))

    def test_second_client_is_refused(self):
        prod = testsvc(self)
        tap = Tap(self, f"127.0.0.1:{prod}")
        tap.attach(os.path.join(self.tmp, "a.ucap"))
        r = run("capture", "--from-proxy", "--socket", tap.sock, "-w",
                os.path.join(self.tmp, "b.ucap"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("another capture client is attached", r.stderr)
        self.assertEqual(tap.detach()[0], 0)


SECRETS = [b"alice@example.com", b"4111 1111 1111 1111", b"hunter2",
           b"tok-9f8e7d6c5b4a", b"bob@example.org"]
SENSITIVE_BODY = (b'{"email":"alice@example.com","card":"4111 1111 1111 1111",'
                  b'"password":"hunter2"}')
SENSITIVE = (b"POST /signup?email=bob@example.org HTTP/1.1\r\nHost: h\r\n"
             b"Authorization: Bearer tok-9f8e7d6c5b4a\r\n"
             b"Content-Type: application/json\r\nContent-Length: " +
             str(len(SENSITIVE_BODY)).encode() + b"\r\n\r\n" +
             SENSITIVE_BODY)


class CaptureMaskingTest(TestCase):
    """Capture files are masked by default (DESIGN.md non-negotiable 2):
    from the proxy's tap and from imported files; what masking cannot
    read is refused and counted, never written."""

    def assert_clean(self, path):
        data = open(path, "rb").read()
        for s in SECRETS:
            self.assertNotIn(s, data, s)

    def test_tap_records_are_masked_and_refusals_counted(self):
        prod = RecordingServer(name="svc")
        self.addCleanup(prod.stop)
        tap = Tap(self, prod.addr, f"mask:\n  key_file: {self.tmp}/k.key\n")
        out = os.path.join(self.tmp, "m.ucap")
        tap.attach(out, "--config", plain(self))
        for _ in range(3):
            r = http_exchange(tap.port, SENSITIVE)
            self.assertEqual(len(r), 1)
        # declared JSON that is not: masking cannot read it, so the
        # record is refused (production is served all the same)
        bad = b"{not json"
        r = http_exchange(tap.port, b"POST /x HTTP/1.1\r\nHost: h\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(bad), bad))
        self.assertEqual(len(r), 1)
        # the refusal reaches the file as a loss record (once a second)
        wait_file(out, lambda js: js["exchanges"] == 3 and
                  js["lost"]["mask"] == 1,
                  f"3 exchanges and 1 mask refusal in {out}")
        rc, log = tap.detach()
        self.assertEqual(rc, 0, log)
        self.assertIn("3 exchanges written", log)
        self.assertRegex(log, r"requests lost: 1 \(mask 1\)")
        self.assert_clean(out)
        _, js = stats(out)
        self.assertEqual(js["exchanges"], 3)
        self.assertEqual(js["lost"]["mask"], 1)
        # production got the real values
        self.assertTrue(any(b"alice@example.com" in b for _, b in
                            prod.requests))

    def test_imported_files_are_masked(self):
        body = SENSITIVE
        g = self.write("in.gor", "")
        with open(g, "wb") as f:
            f.write(gor_item(ord("1"), b"a" * 24, 1700000000000000000, -1,
                             body))
            f.write(gor_item(ord("2"), b"a" * 24, 1700000000000005000, 5000,
                             b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             b"\r\nok"))
        cfg = self.write("m.yaml", "service: s\nproduction:\n  upstreams: "
                         f"[127.0.0.1:1]\nmask:\n  key_file: {self.tmp}/k.key\n")
        out = os.path.join(self.tmp, "g.ucap")
        r = run("capture", "--gor", g, "-w", out, "--config", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(out)
        _, js = stats(out)
        self.assertEqual(js["exchanges"], 1)
        self.assertEqual(js["masking"], "umbra-mask")
        # the same with masking off keeps them: the test can fail
        raw = os.path.join(self.tmp, "raw.ucap")
        self.assertEqual(run("capture", "--gor", g, "-w", raw, "--config",
                             plain(self)).returncode, 0)
        self.assertIn(b"hunter2", open(raw, "rb").read())


class RunTapTest(TestCase):
    def test_umbra_run_offers_the_tap_named_by_its_config(self):
        prod = RecordingServer(name="svc")
        self.addCleanup(prod.stop)
        port = free_port()
        cfg = self.write("u.yaml", f"""service: runsvc
listen:
  address: 127.0.0.1:{port}
production:
  upstreams: [{prod.addr}]
""")
        logf = open(os.path.join(self.tmp, "run.log"), "w")
        self.addCleanup(logf.close)
        u = start([UMBRA, "run", cfg], stderr=logf, cwd=self.tmp)
        wait_port(port, proc=u)
        sock = os.path.join(self.tmp, "umbra-data", "capture.sock")
        wait_until(lambda: os.path.exists(sock), what="the tap socket")
        self.assertEqual(os.stat(os.path.dirname(sock)).st_mode & 0o777,
                         0o700)
        out = os.path.join(self.tmp, "run.ucap")
        capf = open(os.path.join(self.tmp, "cap.log"), "w")
        self.addCleanup(capf.close)
        cap = start([UMBRA, "capture", "--from-proxy", "--config", cfg,
                     "-w", out, "--count", "3"], stderr=capf)
        wait_until(lambda: log_has(logf.name, "capture client attached"),
                   what="the proxy's 'capture client attached'")
        for i in range(3):
            http_exchange(port, b"GET /r/%d HTTP/1.1\r\nHost: h\r\n\r\n" % i)
        self.assertEqual(cap.wait(10), 0)
        _, js = stats(out)
        self.assertEqual(js["exchanges"], 3)
        self.assertEqual(js["service"], "runsvc")
        self.assertEqual(stop(u), 0)
        self.assertFalse(os.path.exists(sock))


# ---------------------------------------------------------------- pcap

def pcap_fins(path):
    """(source port, destination port) of every TCP segment with FIN set
    in a pcap file of Ethernet frames carrying IPv4 (tcpdump -i lo),
    as far as its records are whole."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return set()
    end = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") \
        else ">"
    out, off = set(), 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(end + "I", data, off + 8)[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < incl:
            break
        if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue
        tcp = 14 + (frame[14] & 0x0f) * 4
        if len(frame) >= tcp + 14 and frame[tcp + 13] & 0x01:
            out.add(struct.unpack_from("!HH", frame, tcp))
    return out


def pcap_bytes(packets):
    """A pcap file (Ethernet) from (ts, frame) pairs."""
    out = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
    for ts, frame in packets:
        out.append(struct.pack("<IIII", int(ts), int(ts * 1e6) % 1000000,
                               len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff,
                      ack & 0xffffffff, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload),
                     0, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload


class Conn:
    """A TCP connection written into a generated capture."""

    SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08

    def __init__(self, pkts, cport, t0):
        self.pkts, self.cport, self.t = pkts, cport, t0
        self.seq = [1000 * cport % 100000, 7000]
        self.c, self.s = [10, 0, 0, 1], [10, 0, 0, 2]

    def _f(self, d, seq, flags, payload=b""):
        self.t += 0.0001
        a, b = (self.c, self.s) if d == 0 else (self.s, self.c)
        pa, pb = (self.cport, 80) if d == 0 else (80, self.cport)
        return (self.t, frame(a, b, pa, pb, seq, self.seq[1 - d], flags,
                              payload))

    def handshake(self):
        self.pkts.append(self._f(0, self.seq[0], self.SYN))
        self.pkts.append(self._f(1, self.seq[1], self.SYN | self.ACK))
        self.seq = [self.seq[0] + 1, self.seq[1] + 1]

    def segments(self, d, data, mss):
        out = []
        for i in range(0, len(data), mss):
            out.append(self._f(d, self.seq[d] + i, self.ACK | self.PSH,
                               data[i:i + mss]))
        self.seq[d] += len(data)
        return out

    def fin(self):
        for d in (0, 1):
            self.pkts.append(self._f(d, self.seq[d], self.FIN | self.ACK))


EXCHANGES = [
    (b"GET /a/1 HTTP/1.1\r\nHost: g\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"),
    (b"POST /b HTTP/1.1\r\nHost: g\r\nContent-Length: 300\r\n\r\n" +
     b"p" * 300, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
    (b"PUT /c HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n",
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"4\r\nwxyz\r\n0\r\n\r\n"),
]


class PcapTest(TestCase):
    def generated(self, reorder, lose=False):
        """Three connections: keep-alive (three exchanges), pipelined
        (three requests in one go), and one request per connection."""
        import random
        rnd = random.Random(7)
        pkts = []
        for k, cport in enumerate((40001, 40002, 40003)):
            c = Conn(pkts, cport, 1700000000 + k)
            c.handshake()
            if k == 1:  # pipelined
                segs = c.segments(0, b"".join(q for q, _ in EXCHANGES), 40)
                rsegs = c.segments(1, b"".join(r for _, r in EXCHANGES), 30)
                groups = [segs, rsegs]
            else:
                groups = []
                for q, r in (EXCHANGES if k == 0 else EXCHANGES[:1]):
                    groups.append(c.segments(0, q, 37))
                    groups.append(c.segments(1, r, 23))
            for g in groups:
                if reorder:
                    g = list(g)
                    # retransmit some, swap neighbours, duplicate late
                    for i in range(len(g) - 1):
                        if rnd.random() < 0.4:
                            g[i], g[i + 1] = g[i + 1], g[i]
                    g += [g[rnd.randrange(len(g))] for _ in range(2)]
                    g.insert(rnd.randrange(len(g)), g[0])
                if lose and k == 0 and g is groups[2]:
                    g = list(g)
                    del g[2]  # a body segment of POST /b never captured
                pkts.extend(g)
            c.fin()
        path = os.path.join(self.tmp, "gen.pcap")
        with open(path, "wb") as f:
            f.write(pcap_bytes(pkts))
        return path

    def test_generated_with_reordering_and_retransmission(self):
        for reorder in (False, True):
            path = self.generated(reorder)
            out = os.path.join(self.tmp, f"g{reorder}.ucap")
            r = run("capture", "--pcap", path, "-w", out, "--config",
                    plain(self))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("requests lost: 0", r.stderr)
            r, js = stats(out)
            self.assertEqual(js["exchanges"], 7, r.stdout)
            self.assertEqual(lost(js), 0)
            self.assertEqual(js["no_response"], 0)
            self.assertEqual(js["status"]["201"], 2)
            # bodies de-chunked, in full
            gor = os.path.join(self.tmp, f"g{reorder}.gor")
            self.assertEqual(run("capture", "--config", plain(self),
                                 "--file", out, "--format", "gor",
                                 "-w", gor).returncode, 0)
            g = open(gor, "rb").read()
            self.assertEqual(g.count(b"p" * 300), 2)
            self.assertEqual(g.count(b"0123456789abc"), 2)
            self.assertEqual(g.count(b"\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n"), 2)
            if reorder:
                again = run("capture", "--config", plain(self), "--pcap",
                            path, "-w", out + "2")
                self.assertRegex(again.stderr,
                                 r"retransmitted bytes dropped: [1-9]")

    def test_lost_segment_is_counted_not_silent(self):
        path = self.generated(False, lose=True)
        out = os.path.join(self.tmp, "lost.ucap")
        r = run("capture", "--pcap", path, "-w", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"requests lost: 1 \(gap 1\)")
        self.assertRegex(r.stderr, r"gaps: 1 \(37 bytes never captured\)")
        self.assertNotIn("without their", r.stderr)
        self.assertNotIn("responses to requests not seen", r.stderr)
        r, js = stats(out)
        self.assertEqual(js["exchanges"], 6)
        self.assertEqual(js["lost"]["gap"], 1)

    def test_tcpdump_of_curl_and_wrk_zero_loss(self):
        if os.geteuid() != 0 or not shutil.which("tcpdump"):
            self.skipTest("needs root and tcpdump to capture on lo")
        port = testsvc(self)
        path = os.path.join(self.tmp, "real.pcap")
        # tcpdump drops privileges to its own user: a directory it can
        # write
        os.chmod(self.tmp, 0o777)
        errf = open(os.path.join(self.tmp, "tcpdump.log"), "w")
        self.addCleanup(errf.close)
        # immediate mode: without it the last block of packets can stay
        # in the kernel's ring when tcpdump is stopped
        td = start(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-B",
                    "65536", "-s", "0",
                    "-w", path, f"tcp port {port}"], stderr=errf)
        wait_until(lambda: log_has(errf.name, "listening"),
                   what="tcpdump listening")
        base = f"http://127.0.0.1:{port}"
        calls = [["curl", "-s", f"{base}/users/1", f"{base}/users/2"],
                 ["curl", "-s", "-d", "hello=world", f"{base}/echo"],
                 ["curl", "-s", "-H", "Transfer-Encoding: chunked", "-d",
                  "abcdefghij" * 100, f"{base}/echo"],
                 ["curl", "-s", f"{base}/chunked"],
                 ["curl", "-s", "-I", f"{base}/users/3"]]
        for c in calls:
            subprocess.run(c, capture_output=True, timeout=10, check=True)
        ncurl = 7  # with the last one, below
        nwrk = 0
        if shutil.which("wrk"):
            w = subprocess.run(["wrk", "-t1", "-c4", "-d1s",
                                f"{base}/users/7"], capture_output=True,
                               text=True, timeout=20)
            nwrk = int(re.search(r"(\d+) requests in", w.stdout).group(1))
        # a last request from a known port: once both sides' FINs of its
        # connection are in the file (tcpdump -U writes each packet as it
        # reads it, in order), so is every packet before them
        last = free_port()
        subprocess.run(["curl", "-s", "--local-port", str(last),
                        f"{base}/users/4"], capture_output=True, timeout=10,
                       check=True)
        wait_until(lambda: {(last, port), (port, last)} <= pcap_fins(path),
                   what=f"the FINs of :{last} <-> :{port} in {path}")
        self.assertEqual(stop(td, sig=signal.SIGINT, grace=10), 0)
        tlog = open(errf.name).read()
        dropped = int(re.search(r"(\d+) packets dropped by kernel",
                                tlog).group(1))
        if dropped:
            self.skipTest(f"tcpdump itself dropped {dropped} packets")
        out = os.path.join(self.tmp, "real.ucap")
        r = run("capture", "--pcap", path, "-w", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("requests lost: 0", r.stderr)
        r, js = stats(out)
        # wrk counts the responses it read; the requests its 4
        # connections had in flight when its second was up are on the
        # wire too (answered or not)
        self.assertGreaterEqual(js["exchanges"] - js["no_response"],
                                ncurl + nwrk)
        self.assertLessEqual(js["exchanges"], ncurl + nwrk + 4)
        self.assertEqual(lost(js), 0)
        self.assertLessEqual(js["no_response"] + js["partial_response"], 4)
        eps = {e["endpoint"]: e for e in js["endpoints"]}
        self.assertEqual(eps["POST /echo"]["count"], 2)
        self.assertEqual(eps["POST /echo"]["request_bytes"], 11 + 1000)
        self.assertEqual(eps["HEAD /users/:id"]["count"], 1)


# ---------------------------------------------------------------- gor

def gor_item(kind, gid, ts, lat, payload):
    return b"%c %s %d %d\n" % (kind, gid, ts, lat) + payload + SEP


class GorTest(TestCase):
    def canonical(self):
        items = []
        t = 1700000000000000000
        # bodies in one chunk: what export writes
        single = [(q.replace(b"a\r\n0123456789\r\n3\r\nabc\r\n",
                             b"d\r\n0123456789abc\r\n"), r)
                  for q, r in EXCHANGES]
        for i, (q, r) in enumerate(single):
            gid = b"%024x" % (i + 1)
            items.append(gor_item(ord("1"), gid, t + i * 100000000, -1, q))
            items.append(gor_item(ord("2"), gid, t + i * 100000000 + 5000,
                                  5000, r))
        # a request whose response never came
        items.append(gor_item(ord("1"), b"f" * 24, t + 500000000, -1,
                              b"GET /lonely HTTP/1.1\r\nHost: g\r\n\r\n"))
        return b"".join(items)

    def test_round_trips(self):
        src = self.canonical()
        a = self.write("a.gor", "")
        with open(a, "wb") as f:
            f.write(src)
        u = os.path.join(self.tmp, "a.ucap")
        # the format's fidelity: masking off (the file says masking=none)
        plain = globals()["plain"](self)
        r = run("capture", "--gor", a, "-w", u, "--config", plain)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("exchanges: 4 (1 without response)", r.stderr)
        b = os.path.join(self.tmp, "b.gor")
        self.assertEqual(run("capture", "--file", u, "--format", "gor", "-w",
                             b, "--config", plain).returncode, 0)
        # canonical .gor -> umbra -> .gor is byte for byte
        self.assertEqual(open(b, "rb").read(), src)
        # umbra -> gor -> umbra keeps every record
        u2 = os.path.join(self.tmp, "b.ucap")
        self.assertEqual(run("capture", "--gor", b, "-w", u2, "--config",
                             plain).returncode, 0)
        _, s1 = stats(u)
        _, s2 = stats(u2)
        for k in ("exchanges", "no_response", "status", "endpoints",
                  "sizes", "first", "last"):
            self.assertEqual(s1[k], s2[k], k)

    def test_goreplay_variants(self):
        """GoReplay's own files: three-field headers, 40-digit ids,
        responses whose third field is the round trip, bodies in several
        chunks, replayed responses (skipped), a response without request,
        a payload that is not HTTP, a last item cut off."""
        t = 1700000000000000000
        items = [
            b"1 %s %d\n" % (b"a" * 40, t) + b"POST /x HTTP/1.1\r\nHost: h\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
            + SEP,
            b"2 %s %d\n" % (b"a" * 40, 7000) +
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + SEP,
            b"3 %s %d 1\n" % (b"a" * 40, t) +
            b"HTTP/1.1 500 No\r\nContent-Length: 0\r\n\r\n" + SEP,
            b"2 orphan %d 1\n" % t +
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" + SEP,
            b"1 bad %d -1\n" % t + b"\x16\x03\x01 not http" + SEP,
            b"garbage line" + SEP,
            b"1 cut %d -1\n" % (t + 1) + b"GET /cut HTTP/1.1\r\nHost: h\r\n\r\n",
        ]
        p = os.path.join(self.tmp, "v.gor")
        with open(p, "wb") as f:
            f.write(b"".join(items))
        u = os.path.join(self.tmp, "v.ucap")
        r = run("capture", "--gor", p, "-w", u, "--config", plain(self))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 replayed responses skipped, 1 unreadable", r.stderr)
        self.assertIn("requests lost: 1 (parse 1)", r.stderr)
        self.assertIn("responses to requests not in the file: 1", r.stderr)
        _, js = stats(u)
        self.assertEqual(js["exchanges"], 2)
        self.assertEqual(js["no_response"], 1)
        self.assertEqual(js["lost"]["parse"], 1)
        g = os.path.join(self.tmp, "v2.gor")
        run("capture", "--config", plain(self), "--file", u, "--format",
            "gor", "-w", g)
        data = open(g, "rb").read()
        self.assertIn(b"3\r\nabc\r\n0\r\n\r\n", data, "one chunk")
        self.assertIn(b"2 " + b"a" * 40 + b" %d 7000\n" % (t + 7000), data)


# ---------------------------------------------------------------- replay

class ReplayTest(TestCase):
    def capture_file(self, n=10, gap_ms=100):
        t = 1700000000000000000
        items = []
        for i in range(n):
            gid = b"%024x" % (i + 1)
            method = b"POST" if i % 2 else b"GET"
            body = b"b%d" % i if i % 2 else b""
            head = b"%s /r/%d HTTP/1.1\r\nHost: rec.example\r\n" % (method, i)
            if body:
                head += b"Content-Length: %d\r\n" % len(body)
            items.append(gor_item(ord("1"), gid, t + i * gap_ms * 1000000,
                                  -1, head + b"\r\n" + body))
            items.append(gor_item(
                ord("2"), gid, t + i * gap_ms * 1000000 + 1000, 1000,
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2\r\n\r\n{}"))
        g = os.path.join(self.tmp, "r.gor")
        with open(g, "wb") as f:
            f.write(b"".join(items))
        u = os.path.join(self.tmp, "r.ucap")
        self.assertEqual(run("capture", "--gor", g, "-w", u,
                             "--compress").returncode, 0)
        return u

    def test_speed_filter_host_count_loop(self):
        u = self.capture_file()
        srv = RecordingServer(name="x", body=b"{}")
        self.addCleanup(srv.stop)
        r = run("replay", u, "--target", srv.addr, "--speed", "10x",
                "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        js = json.loads(r.stdout)
        self.assertEqual(js["sent"], 10)
        self.assertEqual(js["speed"], "10x")
        # 9 gaps of 100 ms recorded, at 10x: 100 req/s requested
        self.assertAlmostEqual(js["target_rate"], 100.0, places=3)
        self.assertGreater(js["achieved_rate"], 0)
        self.assertEqual(js["comparison"]["matched"], 10)
        # filters, Host rewrite
        n0 = srv.count()
        r = run("replay", u, "--target", srv.addr, "--speed", "max",
                "--filter", "method=POST", "--filter", "path!=/r/9",
                "--host", "staging.internal", "--format", "json")
        js = json.loads(r.stdout)
        self.assertEqual(js["sent"], 4)
        self.assertEqual(js["filtered"], 6)
        got = srv.requests[n0:]
        self.assertTrue(all(h.startswith(b"POST ") for h, _ in got))
        self.assertTrue(all(b"\r\nHost: staging.internal\r\n" in h
                            for h, _ in got))
        self.assertEqual(sorted(b for _, b in got),
                         [b"b1", b"b3", b"b5", b"b7"])
        # loop with a count
        r = run("replay", u, "--target", srv.addr, "--speed", "max",
                "--loop", "--count", "25", "--format", "json")
        js = json.loads(r.stdout)
        self.assertEqual(js["sent"], 25)
        self.assertGreaterEqual(js["loops"], 2)
        # text summary names the rate and the quantiles
        r = run("replay", u, "--target", srv.addr, "--speed", "50%",
                "--count", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"rate +achieved [\d.]+ req/s, target "
                         r"[\d.]+ req/s")
        self.assertRegex(r.stdout, r"latency +p50 [\d.]+ ms, p90")

    def test_errors_are_clear(self):
        u = self.capture_file(3)
        r = run("replay", u, "--target", f"127.0.0.1:{dead_port()}",
                "--speed", "max", "--format", "json")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no response from", r.stderr)
        self.assertEqual(json.loads(r.stdout)["errors"]["connect"], 3)
        r = run("replay", u, "--target", "127.0.0.1:1", "--speed", "fast")
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad --speed 'fast'", r.stderr)
        r = run("replay", u, "--target", "127.0.0.1:1", "--filter", "colour=red")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown filter key 'colour'", r.stderr)
        r = run("replay", os.path.join(self.tmp, "nope.ucap"), "--target",
                "127.0.0.1:1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file", r.stderr)
        junk = self.write("junk.ucap", "GIF89a not a capture")
        r = run("capture", "--stats", junk)
        self.assertEqual(r.returncode, 1)
        self.assertIn("junk.ucap: byte 0: not an umbra capture file",
                      r.stderr)
        r = run("capture", "-w", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("give exactly one of", r.stderr)
        r = run("capture", "--from-proxy", "--socket",
                os.path.join(self.tmp, "none.sock"), "-w",
                os.path.join(self.tmp, "o.ucap"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect to the proxy's capture tap", r.stderr)
        r = run("capture", "--gor", junk, "-w", u)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists (use --force", r.stderr)

    def test_damaged_file_replays_its_good_part(self):
        u = self.capture_file(10)
        data = open(u, "rb").read()
        cut = os.path.join(self.tmp, "cut.ucap")
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])
        srv = RecordingServer(name="x", body=b"{}")
        self.addCleanup(srv.stop)
        r = run("replay", cut, "--target", srv.addr, "--speed", "max",
                "--format", "json")
        self.assertEqual(r.returncode, 1)
        js = json.loads(r.stdout)
        self.assertGreater(js["sent"], 0)
        self.assertLess(js["sent"], 10)
        self.assertRegex(js["file_error"], r"cut\.ucap: byte \d+: ")
