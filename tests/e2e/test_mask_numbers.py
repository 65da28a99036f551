"""Issue 24 point 1 through the real proxy and the capture importer:
card numbers as JSON floats and exponents, phone and account numbers as
JSON integers under keys that say so, card numbers with dots, a card
number in a header name and a cookie name, a JWT as a nameless cookie.
Each value must reach neither the shadow nor the capture file, and a
look-alike set (order ids, timestamps, prices, dotted versions, counts
under phone-ish keys) must reach the shadow unaltered (<= 1 %)."""
import os

from lib import (Proxy, RecordingServer, TestCase, http_exchange, run,
                 wait_until)
from test_capture import gor_item

JWT = (b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ."
       b"c2lnbmF0dXJlc2lnbmF0dXJl")


def req(body=b"", headers=b"", method=b"POST", target=b"/api/x",
        ctype=b"application/json"):
    h = b"%s %s HTTP/1.1\r\nHost: svc\r\n" % (method, target)
    if body:
        h += b"Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype,
                                                                len(body))
    return h + headers + b"\r\n" + body


# (request, forbidden byte strings)
CASES = [
    (req(b'{"card": 4111111111111111.0}'), [b"4111111111111111"]),
    (req(b'{"n": 4.111111111111111e15}'),
     [b"4.111111111111111e15", b"4111111111111111"]),
    (req(b'{"n": [5555555555554444.0]}'), [b"5555555555554444"]),
    (req(b'{"phone": 5552345678}'), [b"5552345678"]),
    (req(b'{"user": {"mobile": 447700900123}}'), [b"447700900123"]),
    (req(b'{"account_number": 12345678}'), [b"12345678"]),
    (req(b"note=card 4111.1111.1111.1111",
         ctype=b"application/x-www-form-urlencoded"),
     [b"4111.1111.1111.1111"]),
    (req(b'{"c": "4111.1111.1111.1111"}'), [b"4111.1111.1111.1111"]),
    (req(method=b"GET", headers=b"X-Card-4111111111111111: 1\r\n"),
     [b"4111111111111111"]),
    (req(method=b"GET", headers=b"Cookie: " + JWT + b"\r\n"),
     [JWT, b"eyJzdWIiOiJhbm4ifQ"]),
    (req(method=b"GET", headers=b"Cookie: a=1; " + JWT + b"\r\n"),
     [JWT, b"eyJzdWIiOiJhbm4ifQ"]),
    (req(method=b"GET",
         headers=b"Cookie: seen-4111111111111111=1; sid=x\r\n"),
     [b"4111111111111111"]),
]


def lookalikes():
    out = []
    for i in range(200):
        ms = 1700000000000 + i * 7919
        k = i % 5
        if k == 0:
            b = b'{"order_id": %d, "created_at": %d}' % (
                1000000000000 + i * 104729, ms)
        elif k == 1:
            b = b'{"price": %d.%02d, "ts": %d.%03d}' % (
                i * 37 % 10000, i % 100, ms // 1000, i % 1000)
        elif k == 2:
            b = b'{"phone_verified_at": %d, "phone_count": %d}' % (
                ms // 1000, i)
        elif k == 3:
            b = b'{"v": "%d.%d.%d", "amount": %de3}' % (
                1000 + i, 2000 + i, 3000 + i, i)
        else:
            b = b'{"account_id": %d, "t_us": %d}' % (10000000 + i,
                                                     ms * 1000)
        out.append(b)
    return out


class MaskNumbersTest(TestCase):
    def test_shadow_gets_none_and_lookalikes_intact(self):
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
  methods: [GET, POST]
mask:
  key_file: {self.tmp}/k.key
""")
        px = Proxy(self, "--config", cfg, "--workers", "1")
        looks = lookalikes()
        sent = [r for r, _ in CASES] + [req(b) for b in looks]
        for r in sent:
            self.assertEqual(len(http_exchange(px.port, r)), 1)
        wait_until(lambda: sh.count() >= len(sent), 20,
                   "every copy at the shadow")
        self.assertEqual(len(prod.requests), len(sent))
        # copies may reach the shadow in any order (several connections)
        leaks = [(f, head + body) for _, forbidden in CASES
                 for f in forbidden for head, body in sh.requests
                 if f in head + body]
        self.assertEqual(leaks, [])
        # production got them as sent
        for (r, forbidden), (head, body) in zip(CASES, prod.requests):
            self.assertIn(forbidden[0], head + body)
        got = [body for _, body in sh.requests]
        altered = 0
        for b in looks:
            if b in got:
                got.remove(b)
            else:
                altered += 1
        self.assertLessEqual(altered * 100, len(looks),
                             f"{altered} of {len(looks)} altered")

    def test_capture_file_holds_none(self):
        g = os.path.join(self.tmp, "in.gor")
        t = 1700000000000000000
        with open(g, "wb") as f:
            for i, (r, _) in enumerate(CASES):
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
        data = open(out, "rb").read()
        for _, forbidden in CASES:
            for f in forbidden:
                self.assertNotIn(f, data)
        self.assertIn(b"X-Card-", data)  # the header is there, masked
