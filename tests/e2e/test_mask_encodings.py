"""Issue 24 point 2 through the real proxy and the capture importer:
documents inside encodings (base64 values in forms and JSON, multipart
parts in base64 and quoted-printable, gzip uploads and gzip parts, HTML
character references, UTF-16 and Latin-1 bodies). No sensitive value may
reach the shadow or the capture file in any spelling a decoder of those
layers would give back."""
import base64
import binascii
import gzip
import html
import os
import quopri
import re
import zlib
from urllib.parse import unquote_to_bytes

from lib import (Proxy, RecordingServer, TestCase, http_exchange, run,
                 wait_until)
from test_capture import gor_item

SEP = b"\n\xf0\x9f\x90\xb5\xf0\x9f\x99\x88\xf0\x9f\x99\x89\n"
EMAIL = b"ann@example.org"
CARD = b"4111111111111111"
DOC = b'{"email":"ann@example.org","card":"4111111111111111"}'


def req(ct, body, extra=b""):
    return (b"POST /api/up HTTP/1.1\r\nHost: svc\r\nContent-Type: %s\r\n"
            b"%sContent-Length: %d\r\n\r\n" % (ct, extra, len(body)) + body)


def part(headers, content):
    return b"--BB\r\n" + headers + b"\r\n" + content + b"\r\n"


CASES = [
    req(b"application/x-www-form-urlencoded",
        b"payload=" + base64.b64encode(DOC).replace(b"=", b"%3D") + b"&k=1"),
    req(b"application/json",
        b'{"blob":"' + base64.urlsafe_b64encode(DOC).rstrip(b"=") + b'"}'),
    req(b"multipart/form-data; boundary=BB",
        part(b'Content-Disposition: form-data; name="a"\r\nContent-Type: '
             b'application/json\r\nContent-Transfer-Encoding: base64\r\n',
             base64.encodebytes(DOC).replace(b"\n", b"\r\n").strip()) +
        part(b'Content-Disposition: form-data; name="b"\r\n'
             b'Content-Transfer-Encoding: quoted-printable\r\n',
             b"to ann=40example=2Eorg, card 4111=\r\n111111111111") +
        part(b'Content-Disposition: form-data; name="c"; filename="d.gz"'
             b'\r\nContent-Type: application/json\r\n'
             b'Content-Encoding: gzip\r\n', gzip.compress(DOC)) +
        b"--BB--\r\n"),
    req(b"application/gzip", gzip.compress(b"name,email\nann," + EMAIL +
                                           b"\n")),
    req(b"text/html", b"<p>Write to ann&#64;example&#x2E;org or "
        b"ann&commat;example.org, card 4111&#32;1111&#32;1111&#32;1111</p>"),
    req(b"application/x-www-form-urlencoded",
        b"msg=ann%26%2364%3Bexample.org"),
    req(b"text/plain", "mail ann@example.org card 4111 1111 1111 1111"
        .encode("utf-16")),
    req(b"application/json; charset=utf-16le",
        DOC.decode().encode("utf-16-le")),
    req(b"text/plain; charset=iso-8859-1",
        "caf\xe9 ann@example.org".encode("latin-1")),
]


def views(b, depth=0):
    """The body and what each layer's decoder gives back from it."""
    out = [b]
    if depth > 3:
        return out
    try:
        out.append(html.unescape(b.decode("utf-8")).encode())
    except UnicodeDecodeError:
        pass
    if b"%" in b:
        out += views(unquote_to_bytes(b.replace(b"+", b" ")), depth + 1)
    for enc in ("utf-16", "utf-16-le", "utf-16-be", "latin-1"):
        try:
            out.append(b.decode(enc).encode("utf-8", "replace"))
        except UnicodeDecodeError:
            pass
    if b[:2] == b"\x1f\x8b":
        try:
            out += views(gzip.decompress(b), depth + 1)
        except (OSError, EOFError, zlib.error):
            pass
    try:
        out.append(quopri.decodestring(b))
    except (ValueError, binascii.Error):
        pass
    for m in re.finditer(rb"[A-Za-z0-9+/_\-%\r\n]{12,}={0,2}(?:%3D)*", b):
        t = m.group(0).replace(b"%3D", b"=").replace(b"\r\n", b"")
        t = t.replace(b"-", b"+").replace(b"_", b"/")
        t += b"=" * (-len(t) % 4)
        try:
            out += views(base64.b64decode(t), depth + 1)
        except (binascii.Error, ValueError):
            pass
    # gzip members inside multipart parts
    for m in re.finditer(rb"\x1f\x8b", b):
        try:
            d = zlib.decompressobj(31)
            out += views(d.decompress(b[m.start():]), depth + 1)
        except zlib.error:
            pass
    return out


def leaked(msg):
    """The values found in a message's head or in any view of its body."""
    head, _, body = msg.partition(b"\r\n\r\n")
    return [s for part in (head, body) for v in views(part)
            for s in (EMAIL, CARD, b"4111 1111 1111 1111") if s in v]


class MaskEncodingsTest(TestCase):
    def test_views_see_the_values(self):
        """The checker finds every value in the unmasked requests."""
        for r in CASES:
            self.assertTrue(leaked(r), r[:120])

    def test_shadow_gets_none(self):
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
mirror:
  methods: [POST]
mask:
  key_file: {self.tmp}/k.key
""")
        px = Proxy(self, "--config", cfg, "--workers", "1")
        for r in CASES:
            self.assertEqual(len(http_exchange(px.port, r)), 1)
        wait_until(lambda: sh.count() >= len(CASES), 20,
                   "every copy at the shadow")
        self.assertEqual(len(prod.requests), len(CASES))
        # copies may reach the shadow in any order: each is checked
        # against every value
        for head, body in sh.requests:
            self.assertEqual(leaked(head + b"\r\n\r\n" + body), [],
                             body[:300])
        # production got them as sent
        for r, (head, body) in zip(CASES, prod.requests):
            self.assertTrue(leaked(head + b"\r\n\r\n" + body), r[:100])

    def test_capture_file_holds_none(self):
        g = os.path.join(self.tmp, "in.gor")
        t = 1700000000000000000
        with open(g, "wb") as f:
            for i, r in enumerate(CASES):
                gid = b"%024x" % (i + 1)
                f.write(gor_item(ord("1"), gid, t + i * 1000000, -1, r))
                f.write(gor_item(ord("2"), gid, t + i * 1000000 + 5000, 5000,
                                 b"HTTP/1.1 200 OK\r\nContent-Length: 2"
                                 b"\r\n\r\nok"))
        cfg = self.write("m.yaml", "service: s\nproduction:\n  upstreams: "
                         f"[127.0.0.1:1]\nmask:\n  key_file: {self.tmp}/k.key\n")
        out = os.path.join(self.tmp, "g.ucap")
        r = run("capture", "--gor", g, "-w", out, "--config", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{len(CASES)} exchanges written", r.stderr)
        back = os.path.join(self.tmp, "back.gor")
        r = run("capture", "--file", out, "-w", back, "--format", "gor",
                "--config", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        items = open(back, "rb").read().split(SEP)
        reqs = [i.split(b"\n", 1)[1] for i in items if i.startswith(b"1 ")]
        self.assertEqual(len(reqs), len(CASES))
        for r in reqs:
            self.assertEqual(leaked(r), [], r[:300])
