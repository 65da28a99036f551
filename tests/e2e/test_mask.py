"""`umbra mask`: masking requests (and responses) read from stdin, with
the default rules or a config's, and the report of what was touched.
Includes the masking corpus (tests/data/mask) sent through the command in
wire format: chunked bodies split inside the sensitive values, gzip and
deflate bodies, all parsed by the proxy's HTTP parser."""
import base64
import gzip
import json
import os
import stat
import subprocess
import tempfile
import zlib

from lib import ROOT, UMBRA, TestCase, wait_until

DATA = os.path.join(ROOT, "tests", "data", "mask")


def mask(stdin, *args, env=None):
    """Runs umbra mask with bytes on stdin; returns (rc, stdout, stderr)."""
    p = subprocess.run([UMBRA, "mask", *args], input=stdin,
                       capture_output=True, timeout=30, env=env)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def wire(m):
    """A corpus message in wire format (chunked as the corpus says)."""
    body = base64.b64decode(m["body_b64"])
    if m["kind"] == "response":
        head = "HTTP/1.1 %d OK\r\n" % m.get("status", 200)
    else:
        head = "%s %s HTTP/1.1\r\n" % (m["method"], m["target"])
        if not any(n.lower() == "host" for n, _ in m["headers"]):
            head += "Host: shop.example\r\n"
    chunked = False
    for n, v in m["headers"]:
        if n.lower() == "transfer-encoding":
            chunked = True
        head += "%s: %s\r\n" % (n, v)
    if chunked:
        out = b""
        off = 0
        for size in m.get("chunks", [len(body)]):
            out += b"%x\r\n" % size + body[off:off + size] + b"\r\n"
            off += size
        return head.encode() + b"\r\n" + out + b"0\r\n\r\n"
    if body or m["kind"] == "response":
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + body


def split_messages(data):
    """The messages of umbra mask's output: (head, body) pairs."""
    out = []
    while data:
        end = data.index(b"\r\n\r\n") + 4
        head = data[:end].decode("latin-1")
        n = 0
        for line in head.split("\r\n"):
            if line.lower().startswith("content-length:"):
                n = int(line.split(":", 1)[1])
        out.append((head, data[end:end + n]))
        data = data[end + n:]
    return out


def decoded(head, body):
    h = head.lower()
    if "content-encoding: gzip" in h:
        return gzip.decompress(body)
    if "content-encoding: deflate" in h:
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -15)
    return body


class MaskCommandTest(TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="umbra-mask-")
        self.key = os.path.join(self.dir, "mask.key")

    def tearDown(self):
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)

    def config(self, extra=""):
        path = os.path.join(self.dir, "umbra.yaml")
        with open(path, "w") as f:
            f.write("service: t\nproduction:\n  upstreams: [127.0.0.1:1]\n"
                    "mask:\n  key_file: %s\n%s" % (self.key, extra))
        return path

    BODY = b'{"email": "bob@example.net", "card": "4111111111111"}'
    REQ = (b"POST /u/ann@example.org?page=2 HTTP/1.1\r\nHost: shop.example\r\n"
           b"Authorization: Bearer abc123XYZ\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
           % len(BODY) + BODY)

    def test_masks_and_reports(self):
        rc, out, err = mask(self.REQ)
        self.assertEqual(rc, 0, err)
        self.assertIn("throwaway key", err)
        for v in (b"ann@example.org", b"bob@example.net", b"abc123XYZ"):
            self.assertNotIn(v, out)
        self.assertIn(b"Host: shop.example\r\n", out)
        head, body = split_messages(out)[0]
        self.assertEqual(len(body), int(head.split("Content-Length: ")[1]
                                        .split("\r\n")[0]))
        self.assertIn("request 1: 4 values masked", err)
        self.assertIn("  path      /2: email -> hash", err)
        self.assertIn("  json      $.email: email -> hash", err)
        self.assertIn("  json      $.card: keys -> hash", err)
        self.assertNotIn("ann@example.org", err)

    def test_same_key_file_same_output_across_runs(self):
        cfg = self.config()
        rc1, out1, err1 = mask(self.REQ, "--config", cfg)
        self.assertEqual(rc1, 0, err1)
        mode = stat.S_IMODE(os.stat(self.key).st_mode)
        self.assertEqual(mode, 0o600)
        rc2, out2, _ = mask(self.REQ, "--config", cfg)
        self.assertEqual(out1, out2)
        other = os.path.join(self.dir, "other.key")
        rc3, out3, _ = mask(self.REQ, "--config", cfg, "--key", other)
        self.assertEqual(rc3, 0)
        self.assertNotEqual(out1, out3)

    def test_rules_from_the_config(self):
        cfg = self.config("  rules:\n"
                          "    - {where: json, name: $.card, action: drop}\n"
                          "    - {where: header, name: Authorization, "
                          "action: redact}\n")
        rc, out, err = mask(self.REQ, "--config", cfg)
        self.assertEqual(rc, 0, err)
        self.assertNotIn(b'"card"', out)
        self.assertIn(b"Authorization: [REDACTED]\r\n", out)
        self.assertIn("$.card: rules[0] (json $.card) -> drop", err)

    def test_fails_closed_and_prints_nothing(self):
        body = b'{"e": "ann@example.org",'
        req = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
               b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        rc, out, err = mask(req)
        self.assertEqual(rc, 1)
        self.assertEqual(out, b"")
        self.assertIn("request 1 not masked", err)
        self.assertIn("bad_json: expected a key at byte 24", err)

    def test_bad_http_is_an_error(self):
        rc, out, err = mask(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        self.assertEqual(rc, 1)
        self.assertIn("request 1 at byte 0: more than one Host", err)
        rc, out, err = mask(b"")
        self.assertEqual(rc, 1)
        self.assertIn("stdin holds no request", err)

    def test_private_key_file_required(self):
        with open(self.key, "w") as f:
            f.write("0123456789abcdef0123456789abcdef\n")
        os.chmod(self.key, 0o644)
        rc, out, err = mask(self.REQ, "--key", self.key)
        self.assertEqual(rc, 1)
        self.assertIn("chmod 600", err)
        self.assertEqual(out, b"")

    def test_responses(self):
        resp = (b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=s3cr3tv4lue; Path=/\r\n"
                b"Content-Type: text/plain\r\nContent-Length: 20\r\n\r\n"
                b"call +44 20 7946 0958")
        rc, out, err = mask(resp[:-1], "--response")
        self.assertEqual(rc, 0, err)
        self.assertNotIn(b"s3cr3tv4lue", out)
        self.assertIn(b"; Path=/\r\n", out)
        self.assertNotIn(b"7946 095", out)

    def test_help(self):
        p = subprocess.run([UMBRA, "mask", "--help"], capture_output=True,
                           text=True, timeout=10)
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: umbra mask", p.stdout)


class MaskCorpusTest(TestCase):
    """The corpus through the real parser: no sensitive value survives."""

    def run_corpus(self, kind):
        rows = [json.loads(l) for l in open(os.path.join(DATA,
                                                         "sensitive.jsonl"))]
        rows = [r for r in rows if r["kind"] == kind]
        stdin = b"".join(wire(r) for r in rows)
        args = ["--response"] if kind == "response" else []
        rc, out, err = mask(stdin, *args)
        self.assertEqual(rc, 0, err[-2000:])
        msgs = split_messages(out)
        self.assertEqual(len(msgs), len(rows))
        leaks = []
        for row, (head, body) in zip(rows, msgs):
            self.assertNotIn("transfer-encoding", head.lower())
            text = head.encode() + decoded(head, body)
            for v in row["forbidden"]:
                if v.encode() in text:
                    leaks.append((row["id"], v))
            if "compact" in row:
                sq = bytes(c for c in text if c not in b" -().+")
                if row["compact"].encode() in sq:
                    leaks.append((row["id"], row["compact"]))
        self.assertEqual(leaks, [])
        return len(rows)

    def test_sensitive_requests(self):
        self.assertGreater(self.run_corpus("request"), 400)

    def test_sensitive_responses(self):
        self.assertGreater(self.run_corpus("response"), 20)


class CheckConfigMaskTest(TestCase):
    def test_bad_json_path_is_a_config_error(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml",
                                         delete=False) as f:
            f.write("service: t\nproduction: {upstreams: [127.0.0.1:1]}\n"
                    "mask:\n  rules:\n"
                    "    - {where: json, name: '$.a[', action: drop}\n")
        try:
            p = subprocess.run([UMBRA, "check-config", f.name],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2)
            self.assertIn("mask.rules[0].name: bad JSON path \"$.a[\"",
                          p.stderr)
        finally:
            os.unlink(f.name)


class ProxyMaskingTest(TestCase):
    """The corpus through the real proxy: every request goes to
    production untouched, and none of its sensitive values reaches the
    shadow; masking causes no differences in the comparison."""

    def test_no_sensitive_value_reaches_the_shadow(self):
        from lib import Proxy, RecordingServer
        rows = [json.loads(l) for l in open(os.path.join(DATA,
                                                         "sensitive.jsonl"))]
        rows = [r for r in rows if r["kind"] == "request"]
        prod = RecordingServer(name="p")
        sh = RecordingServer(name="s")
        for s in (prod, sh):
            self.addCleanup(s.stop)
        cfg = self.write("u.yaml", f"""service: t
production:
  upstreams: [{prod.addr}]
shadow:
  upstreams: [{sh.addr}]
  ratio: 1
  pool_size: 8
mirror:
  methods: [GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS]
  queue_requests: 100000
""")
        px = Proxy(self, "--config", cfg, "--workers", "1")
        import socket as so
        for r in rows:
            s = so.create_connection(("127.0.0.1", px.port), 10)
            s.sendall(wire(r))
            f = s.makefile("rb")
            from lib import read_http_message
            self.assertIsNotNone(read_http_message(f), r["id"])
            s.close()
        # production saw every request as sent: sensitive values intact
        self.assertEqual(len(prod.requests), len(rows))
        seen = 0
        for r, (head, body) in zip(rows, prod.requests):
            text = head + decoded(head.decode("latin-1"), body)
            seen += any(v.encode() in text for v in r["forbidden"])
        self.assertGreater(seen, len(rows) * 0.9, "production is untouched")
        px.wait_counter("requests", len(rows))

        def copies_done():
            """Every copy answered by the shadow or refused by masking."""
            c = px.counters()
            failed = sum(int(part.split("=")[1]) for part in
                         c.get("dropped", "0").split(",")
                         if part.startswith("mask_failed="))
            return c if int(c.get("mirror_done", 0)) + failed >= len(rows) \
                else None
        c = wait_until(copies_done, 20, f"{len(rows)} copies answered or "
                   "refused by masking", interval=0.2)
        self.assertGreater(len(sh.requests), len(rows) * 0.9)
        leaks = []
        for head, body in sh.requests:
            text = head + decoded(head.decode("latin-1"), body)
            for r in rows:
                for v in r["forbidden"]:
                    if v.encode() in text:
                        leaks.append((r["id"], v))
        self.assertEqual(leaks, [])
        self.assertEqual(c["prod_errors"], "0")

    def _pair_counts(self, body, targets):
        from lib import Proxy, RecordingServer, http_exchange
        servers = [RecordingServer(name="svc", body=body) for _ in range(2)]
        for s in servers:
            self.addCleanup(s.stop)
        cfg = self.write("u.yaml", f"""service: t
production:
  upstreams: [{servers[0].addr}]
shadow:
  upstreams: [{servers[1].addr}]
  ratio: 1
""")
        px = Proxy(self, "--config", cfg, "--workers", "1")
        for t in targets:
            http_exchange(px.port, f"GET {t} HTTP/1.1\r\nHost: x\r\n"
                          "Connection: close\r\n\r\n".encode())
        return px.wait_counter("mirror_done", len(targets))

    def test_echoed_values_compare_as_pseudonyms(self):
        """Production echoes the real values, the shadow the pseudonyms
        it was sent: production's response is masked for the comparison,
        so the pair matches."""
        targets = [f"/u/user{i}@example.com/orders?email=bob{i}%40example.org"
                   for i in range(5)]
        c = self._pair_counts(None, targets)
        self.assertEqual((c["matched"], c["differed"]), ("5", "0"), c)

    def test_a_value_both_return_unmasked_is_no_difference(self):
        """A sensitive value in both responses as it is (a support
        address in every page) is no difference: the responses are
        compared as they are before production's is masked."""
        c = self._pair_counts(b'{"help":"help@example.com"}',
                              ["/a", "/b", "/c"])
        self.assertEqual((c["matched"], c["differed"]), ("3", "0"), c)
