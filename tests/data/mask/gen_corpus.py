#!/usr/bin/env python3
"""Generates the masking corpora (deterministic: fixed seed, gzip mtime 0).

  sensitive.jsonl  messages that each carry one sensitive value (or one
                   credential) in one position; "forbidden" lists every
                   spelling of it that must not survive masking; "compact"
                   (card, SSN, IBAN, phone) the value without separators,
                   which must not appear in the output with its separators
                   (" -().+") removed either.
  lookalike.jsonl  messages that each carry one value that only looks
                   sensitive (order numbers, timestamps, UUIDs, versions,
                   prices, non-Luhn digit runs, ...); "keep" lists what
                   must come out unchanged.

Each line is one message as the proxy's mirror path holds it: method,
target, headers, the de-chunked body (base64), plus "chunks": the chunk
sizes it arrived in when the message was sent chunked (a boundary falls
inside the sensitive value), so an end-to-end run through the proxy can
send it the same way. Responses ("kind": "response") carry Set-Cookie.

Run from anywhere: python3 tests/data/mask/gen_corpus.py
"""
import base64
import gzip
import json
import os
import random
import urllib.parse
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
R = random.Random(20240521)

# ------------------------------------------------------------------ values


def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix]
    while len(digits) < length - 1:
        digits.append(R.randrange(10))
    for check in range(10):
        d = digits + [check]
        s = 0
        for i, v in enumerate(reversed(d)):
            if i % 2:
                v *= 2
                if v > 9:
                    v -= 9
            s += v
        if s % 10 == 0:
            return "".join(map(str, d))
    raise AssertionError


def luhn_ok(d):
    s = 0
    for i, c in enumerate(reversed(d)):
        v = int(c)
        if i % 2:
            v *= 2
            if v > 9:
                v -= 9
        s += v
    return s % 10 == 0


CARD_PREFIXES = [("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16),
                 ("2221", 16), ("2720", 16), ("34", 15), ("37", 15),
                 ("6011", 16), ("65", 16), ("3528", 16), ("36", 14),
                 ("62", 16), ("6759", 18)]


def card():
    prefix, length = R.choice(CARD_PREFIXES)
    d = luhn_complete(prefix, length)
    style = R.randrange(3)
    if style == 0 or length != 16:
        if length == 15 and style:  # Amex 4-6-5
            sep = " " if style == 1 else "-"
            return sep.join([d[:4], d[4:10], d[10:]]), d
        return d, d
    sep = " " if style == 1 else "-"
    return sep.join(d[i:i + 4] for i in range(0, 16, 4)), d


def ssn():
    while True:
        area = R.randrange(1, 900)
        if area != 666:
            break
    d = "%03d%02d%04d" % (area, R.randrange(1, 100), R.randrange(1, 10000))
    sep = R.choice("- ")
    return sep.join([d[:3], d[3:5], d[5:]]), d


IBAN_LENS = {"DE": 22, "GB": 22, "FR": 27, "NL": 18, "ES": 24, "IT": 27,
             "BE": 16, "CH": 21, "AT": 20, "PL": 28, "SE": 24, "NO": 15,
             "IE": 22, "PT": 25, "DK": 18, "FI": 18}


def iban():
    cc = R.choice(sorted(IBAN_LENS))
    n = IBAN_LENS[cc]
    bban = ""
    for i in range(n - 4):
        if cc in ("GB", "NL", "IE") and i < 4:
            bban += chr(65 + R.randrange(26))
        else:
            bban += str(R.randrange(10))
    num = "".join(str(int(c, 36)) for c in bban + cc + "00")
    check = 98 - int(num) % 97
    compact = "%s%02d%s" % (cc, check, bban)
    if R.randrange(2):
        return " ".join(compact[i:i + 4] for i in range(0, n, 4)), compact
    return compact, compact


def phone():
    k = R.randrange(8)
    nxx = lambda: str(R.randrange(2, 10)) + "%02d" % R.randrange(100)
    if k == 0:
        s = "+1 (%s) %s-%04d" % (nxx(), nxx(), R.randrange(10000))
    elif k == 1:
        s = "+44 20 %04d %04d" % (R.randrange(1000, 10000), R.randrange(10000))
    elif k == 2:
        s = "+49%d" % R.randrange(10**10, 10**11)
    elif k == 3:
        s = "(%s) %s-%04d" % (nxx(), nxx(), R.randrange(10000))
    elif k == 4:
        s = "%s-%s-%04d" % (nxx(), nxx(), R.randrange(10000))
    elif k == 5:
        s = "020 %04d %04d" % (R.randrange(1000, 10000), R.randrange(10000))
    elif k == 6:
        s = "07%03d %06d" % (R.randrange(1000), R.randrange(10**6))
    else:
        s = "+33 6 %02d %02d %02d %02d" % tuple(R.randrange(100)
                                                for _ in range(4))
    return s, "".join(c for c in s if c.isdigit())


def ipv4():
    while True:
        a = [R.randrange(1, 224), R.randrange(256), R.randrange(256),
             R.randrange(1, 255)]
        if a[0] != 127:
            return ".".join(map(str, a))


def ipv6():
    groups = ["%x" % R.randrange(0x10000) for _ in range(8)]
    groups[0] = R.choice(["2001", "2a00", "2600", "2a02", "fe80"])
    if R.randrange(2):
        # compress a run of zeros
        groups[3] = groups[4] = "0"
        return ":".join(groups[:3]) + "::" + ":".join(groups[5:])
    return ":".join(groups)


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt():
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(
        {"sub": "user-%d" % R.randrange(10**6), "name": "P%d" % R.randrange(999),
         "iat": 1700000000 + R.randrange(10**6)}).encode())
    sig = b64url(bytes(R.randrange(256) for _ in range(32)))
    return "%s.%s.%s" % (header, payload, sig), [payload, sig]


FIRST = ["ann", "bob", "carol", "dave", "eve", "frank", "grace", "heidi",
         "ivan", "judy", "mallory", "oscar", "peggy", "trent", "victor",
         "walter", "zoe", "li.wei", "maria-jose", "o.connor"]
DOMAINS = ["example.org", "mail.example.com", "corp.example.co.uk",
           "example.net", "sub.example.io", "uni.example.edu", "example.de"]


def email():
    local = R.choice(FIRST) + R.choice(["", ".", "_", "+tag"]) + str(
        R.randrange(1000))
    return "%s@%s" % (local, R.choice(DOMAINS))


def token(n=32):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(R.choice(alphabet) for _ in range(n))


def secret_word():
    return "S3cr%s!%d" % (token(8), R.randrange(1000))


GEN = {
    "email": lambda: (email(), None),
    "card": card,
    "ssn": ssn,
    "iban": iban,
    "phone": phone,
    "ipv4": lambda: (ipv4(), None),
    "ipv6": lambda: (ipv6(), None),
}

# ------------------------------------------------------------------ messages


def b64(b):
    return base64.b64encode(b).decode()


def spellings(v):
    """Every encoding of v that must not survive."""
    out = {v, urllib.parse.quote(v, safe=""), urllib.parse.quote_plus(v),
           urllib.parse.quote(v, safe="").lower(),
           json.dumps(v)[1:-1],
           json.dumps(v, ensure_ascii=True).replace("@", "\\u0040")[1:-1]}
    return sorted(out)


def json_u(v):
    """v JSON-escaped with '@', '.', '-' and ' ' as \\uXXXX."""
    return "".join("\\u%04x" % ord(c) if c in "@.- " else c
                   for c in json.dumps(v)[1:-1])


def msg(kind="request", method="POST", target="/", headers=None, body=b"",
        chunks=None, status=200):
    m = {"kind": kind, "method": method, "target": target,
         "headers": headers or [], "body_b64": b64(body)}
    if kind == "response":
        m["status"] = status
    if chunks:
        m["chunks"] = chunks
    return m


def split_inside(body, needle_bytes):
    i = body.find(needle_bytes)
    cut = i + max(1, len(needle_bytes) // 2) if i >= 0 else len(body) // 2
    cut = min(max(cut, 1), max(len(body) - 1, 1))
    return [cut, len(body) - cut] if len(body) > 1 else [len(body)]


def place(v, pos):
    """A message carrying value v at position pos."""
    q = urllib.parse.quote
    h_json = [["Content-Type", "application/json"]]
    if pos == "path":
        return msg("request", "GET", "/api/v1/lookup/%s/details" % q(v, safe="@+"))
    if pos == "query":
        return msg("request", "GET", "/search?q=%s&page=2" % q(v, safe="@"))
    if pos == "query_enc":
        return msg("request", "GET", "/search?lang=en&contact=%s" % q(v, safe=""))
    if pos == "header":
        return msg("request", "GET", "/", [["Host", "shop.example"],
                                          ["X-Note", "contact %s today" % v]])
    if pos == "referer":
        return msg("request", "GET", "/", [["Referer",
                                           "https://shop.example/p?who=%s" % q(v, safe="")]])
    if pos == "json":
        return msg(body=json.dumps({"user": {"contact": v, "age": 41}}).encode(),
                   headers=h_json)
    if pos == "json_esc":
        return msg(body=('{"note":"%s","n":1}' % json_u(v)).encode(), headers=h_json)
    if pos == "json_nested":
        return msg(body=json.dumps({"items": [{"id": 1, "meta": {"x": [v]}}]}).encode(),
                   headers=h_json)
    if pos == "json_url":
        return msg(body=json.dumps({"next": "https://a.example/cb?c=%s" % q(v, safe="")}).encode(),
                   headers=h_json)
    if pos == "form":
        return msg(body=("comment=%s&lang=en" % urllib.parse.quote_plus(v)).encode(),
                   headers=[["Content-Type", "application/x-www-form-urlencoded"]])
    if pos == "multipart":
        body = ("--b0undary\r\nContent-Disposition: form-data; name=\"contact\"\r\n\r\n"
                "%s\r\n--b0undary\r\nContent-Disposition: form-data; name=\"lang\"\r\n\r\n"
                "en\r\n--b0undary--\r\n" % v).encode()
        return msg(body=body, headers=[["Content-Type",
                                         "multipart/form-data; boundary=b0undary"]])
    if pos == "multipart_file":
        body = ("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"c.csv\"\r\n"
                "Content-Type: text/csv\r\n\r\nid,contact\r\n1,%s\r\n\r\n--XyZ--\r\n" % v).encode()
        return msg(body=body, headers=[["Content-Type",
                                         "multipart/form-data; boundary=XyZ"]])
    if pos == "multipart_json":
        body = ("--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\n"
                "Content-Type: application/json\r\n\r\n%s\r\n--XyZ--\r\n"
                % json.dumps({"c": v})).encode()
        return msg(body=body, headers=[["Content-Type",
                                         "multipart/form-data; boundary=XyZ"]])
    if pos == "text":
        return msg(body=("Hello,\nplease reach me at %s. Thanks!\n" % v).encode(),
                   headers=[["Content-Type", "text/plain; charset=utf-8"]])
    if pos == "text_urlenc":
        return msg(body=("GET /x?c=%s HTTP/1.1 logged\n" % q(v, safe="")).encode(),
                   headers=[["Content-Type", "text/plain"]])
    if pos == "text_jsonesc":
        return msg(body=('log: {"c":"%s"}\n' % json_u(v)).encode(),
                   headers=[["Content-Type", "text/plain"]])
    if pos == "xml":
        return msg(body=("<a><c>%s</c></a>" % v).encode(),
                   headers=[["Content-Type", "application/xml"]])
    if pos == "gzip_json":
        raw = json.dumps({"c": v, "pad": "x" * 40}).encode()
        return msg(body=gzip.compress(raw, mtime=0),
                   headers=h_json + [["Content-Encoding", "gzip"]])
    if pos == "gzip_text":
        raw = ("note: %s\n" % v).encode()
        return msg(body=gzip.compress(raw, mtime=0),
                   headers=[["Content-Type", "text/plain"], ["Content-Encoding", "gzip"]])
    if pos == "deflate_form":
        raw = ("c=%s" % urllib.parse.quote_plus(v)).encode()
        return msg(body=zlib.compress(raw),
                   headers=[["Content-Type", "application/x-www-form-urlencoded"],
                            ["Content-Encoding", "deflate"]])
    if pos == "chunked_json":
        body = json.dumps({"c": v}).encode()
        return msg(body=body, chunks=split_inside(body, v.encode()),
                   headers=h_json + [["Transfer-Encoding", "chunked"]])
    if pos == "chunked_text":
        body = ("a %s b" % v).encode()
        return msg(body=body, chunks=split_inside(body, v.encode()),
                   headers=[["Content-Type", "text/plain"], ["Transfer-Encoding", "chunked"]])
    if pos == "response_json":
        return msg("response", body=json.dumps({"profile": {"c": v}}).encode(),
                   headers=h_json)
    raise KeyError(pos)


POSITIONS = ["path", "query", "query_enc", "header", "referer", "json",
             "json_esc", "json_nested", "json_url", "form", "multipart",
             "multipart_file", "multipart_json", "text", "text_urlenc",
             "text_jsonesc", "xml", "gzip_json", "gzip_text", "deflate_form",
             "chunked_json", "chunked_text", "response_json"]


SEPARATORS = " -().+"


def compact(v):
    return "".join(c for c in v if c not in SEPARATORS)


def sensitive():
    out = []
    for typ in sorted(GEN) + ["jwt"]:
        for pos in POSITIONS:
            for _ in range(2):
                if typ == "jwt":
                    v, parts = jwt()
                    forbidden = spellings(v) + parts
                else:
                    v, digits = GEN[typ]()
                    forbidden = spellings(v)
                m = place(v, pos)
                m.update(type=typ, position=pos, forbidden=forbidden)
                if typ in ("card", "ssn", "iban", "phone"):
                    m["compact"] = compact(v)
                out.append(m)
    # Credentials and secrets that live in particular places.
    for i in range(12):
        t = token(R.choice([24, 32, 40]))
        out.append(dict(msg("request", "GET", "/me", [["Authorization", "Bearer " + t]]),
                        type="bearer", position="header", forbidden=[t]))
        j, parts = jwt()
        where = R.choice(["auth", "json", "text", "query", "cookie"])
        if where == "auth":
            m = msg("request", "GET", "/me", [["Authorization", "Bearer " + j]])
        elif where == "json":
            m = place(j, "json")
        elif where == "text":
            m = place(j, "text")
        elif where == "query":
            m = msg("request", "GET", "/cb?id_token=%s&state=1" % j)
        else:
            m = msg("request", "GET", "/", [["Cookie", "jwt=%s; lang=en" % j]])
        out.append(dict(m, type="jwt", position=where, forbidden=[j] + parts))
        user, pw = R.choice(FIRST) + str(i), secret_word()
        cred = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
        out.append(dict(msg("request", "GET", "/", [["Authorization", "Basic " + cred]]),
                        type="basic", position="header", forbidden=[cred, pw]))
        k = "sk_live_" + token(24)
        out.append(dict(msg("request", "GET", "/", [["X-Api-Key", k]]),
                        type="apikey", position="header", forbidden=[k]))
        px = token(20)
        out.append(dict(msg("request", "GET", "/", [["Proxy-Authorization", "Bearer " + px]]),
                        type="bearer", position="proxy-auth", forbidden=[px]))
        sid, csrf = token(26), token(16)
        out.append(dict(msg("request", "GET", "/", [["Cookie", "sid=%s; csrftoken=%s" % (sid, csrf)]]),
                        type="cookie", position="header", forbidden=[sid, csrf]))
        s2 = token(30)
        out.append(dict(msg("response", headers=[["Set-Cookie",
                                                  "session=%s; Path=/; HttpOnly; Secure" % s2]]),
                        type="set-cookie", position="header", forbidden=[s2]))
        for keyname in ["password", "client_secret", "access_token", "api_key"]:
            pw = secret_word()
            where = R.choice(["json", "form", "query", "multipart", "header"])
            if where == "json":
                m = msg(body=json.dumps({"login": "x", keyname: pw}).encode(),
                        headers=[["Content-Type", "application/json"]])
            elif where == "form":
                m = msg(body=("u=x&%s=%s" % (keyname, urllib.parse.quote_plus(pw))).encode(),
                        headers=[["Content-Type", "application/x-www-form-urlencoded"]])
            elif where == "query":
                m = msg("request", "GET", "/x?%s=%s" % (keyname, urllib.parse.quote(pw, safe="")))
            elif where == "multipart":
                m = msg(body=("--b\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n--b--\r\n"
                              % (keyname, pw)).encode(),
                        headers=[["Content-Type", "multipart/form-data; boundary=b"]])
            else:
                m = msg("request", "GET", "/", [["X-" + keyname.replace("_", "-"), pw]])
            out.append(dict(m, type="keys", position=where, forbidden=spellings(pw)))
    for i, m in enumerate(out):
        m["id"] = "s%04d" % i
    return out


# ------------------------------------------------------------------ look-alikes


def not_luhn(prefix, length):
    d = luhn_complete(prefix, length)
    return d[:-1] + str((int(d[-1]) + R.randrange(1, 10)) % 10)


def lookalike_values():
    vals = []
    for _ in range(40):
        kind = R.randrange(14)
        if kind == 0:
            vals.append(("order", "ORD-%d-%06d" % (R.randrange(2019, 2026), R.randrange(10**6))))
        elif kind == 1:
            vals.append(("order", "#%d" % R.randrange(10**7, 10**9)))
        elif kind == 2:
            vals.append(("order", "%d" % R.randrange(10**9, 10**12)))
        elif kind == 3:
            vals.append(("timestamp", "%04d-%02d-%02dT%02d:%02d:%02dZ" % (
                R.randrange(2000, 2030), R.randrange(1, 13), R.randrange(1, 29),
                R.randrange(24), R.randrange(60), R.randrange(60))))
        elif kind == 4:
            vals.append(("timestamp", str(R.randrange(1500000000, 1800000000))))
        elif kind == 5:
            vals.append(("timestamp", str(R.randrange(1500000000000, 1800000000000))))
        elif kind == 6:
            vals.append(("timestamp", "%04d-%02d-%02d %02d:%02d:%02d" % (
                R.randrange(2000, 2030), R.randrange(1, 13), R.randrange(1, 29),
                R.randrange(24), R.randrange(60), R.randrange(60))))
        elif kind == 7:
            vals.append(("uuid", "%08x-%04x-%04x-%04x-%012x" % (
                R.getrandbits(32), R.getrandbits(16), R.getrandbits(16),
                R.getrandbits(16), R.getrandbits(48))))
        elif kind == 8:
            vals.append(("version", R.choice([
                "%d.%d.%d" % (R.randrange(10), R.randrange(30), R.randrange(100)),
                "v%d.%d.%d" % (R.randrange(10), R.randrange(30), R.randrange(100)),
                "%d.%d.%d-rc.%d" % (R.randrange(5), R.randrange(20), R.randrange(9), R.randrange(5)),
                "10.0.%d" % R.randrange(10000, 26000),
                "%d.%d.%d.%d" % (R.randrange(1, 20), R.randrange(10), R.randrange(300, 9999), R.randrange(10000)),
                "Chrome/%d.0.0.0" % R.randrange(100, 130),
                # Indistinguishable from an IPv4 address: expected to be
                # altered, and counted.
                "%d.%d.%d.%d" % (R.randrange(1, 10), R.randrange(10), R.randrange(1, 30), R.randrange(1, 200)),
                "4.18.0-%d.el8" % R.randrange(100, 600)])))
        elif kind == 9:
            vals.append(("price", R.choice([
                "$%d,%03d.%02d" % (R.randrange(1, 10), R.randrange(1000), R.randrange(100)),
                "%d.%02d EUR" % (R.randrange(1, 999), R.randrange(100)),
                "EUR %d,%02d" % (R.randrange(1, 999), R.randrange(100)),
                "%d %03d,%02d kr" % (R.randrange(1, 99), R.randrange(1000), R.randrange(100)),
                "USD %d.%02d" % (R.randrange(1, 99999), R.randrange(100))])))
        elif kind == 10:
            prefix = R.choice(["4", "51", "37", "6011"])
            vals.append(("nonluhn", not_luhn(prefix, R.choice([13, 15, 16, 19]))))
        elif kind == 11:
            d = not_luhn("4", 16)
            vals.append(("nonluhn", " ".join(d[i:i + 4] for i in range(0, 16, 4))))
        elif kind == 12:
            vals.append(("misc", R.choice([
                "%064x" % R.getrandbits(256),
                "%040x" % R.getrandbits(160),
                "SKU-%05d-%s" % (R.randrange(10**5), R.choice(["S", "M", "XL"])),
                "INV-%07d" % R.randrange(10**7),
                "%d.%04d, %d.%04d" % (R.randrange(-89, 90), R.randrange(10**4),
                                     R.randrange(-179, 180), R.randrange(10**4)),
                "%02d:%02d:%02d" % (R.randrange(24), R.randrange(60), R.randrange(60)),
                "%02d.%02d.%04d" % (R.randrange(1, 29), R.randrange(1, 13), R.randrange(2000, 2030)),
                "localhost:%d" % R.randrange(1024, 65536),
                "%d%%" % R.randrange(101),
                "978-%d-%02d-%06d-%d" % (R.randrange(10), R.randrange(100), R.randrange(10**6), R.randrange(10)),
            ])))
        else:
            vals.append(("misc", R.choice([
                "acct_%s" % token(14), "user-%d" % R.randrange(10**6),
                "tracking 1Z%s" % token(16).upper(),
                "%d items" % R.randrange(1000),
                "zip %05d" % R.randrange(100000),
                "room 4%02d" % R.randrange(100),
            ])))
    return vals


LA_POSITIONS = ["json", "form", "query", "text", "header", "json_nested",
                "multipart", "gzip_json", "path", "xml"]


def lookalikes():
    out = []
    while len(out) < 400:
        for cls, v in lookalike_values():
            pos = R.choice(LA_POSITIONS)
            if pos == "path" and ("/" in v or " " in v):
                pos = "json"
            m = place(v, pos)
            m.update(type=cls, position=pos, keep=[v])
            if pos in ("query", "path", "form", "query_enc", "referer"):
                # stays in its encoded form
                m["keep"] = [urllib.parse.quote(v, safe="@") if pos == "query"
                             else urllib.parse.quote(v, safe="@+") if pos == "path"
                             else urllib.parse.quote_plus(v)]
            out.append(m)
    for i, m in enumerate(out):
        m["id"] = "l%04d" % i
    return out


def write(name, rows):
    with open(os.path.join(HERE, name), "w") as f:
        for r in rows:
            f.write(json.dumps(r, sort_keys=True) + "\n")


if __name__ == "__main__":
    s = sensitive()
    la = lookalikes()
    write("sensitive.jsonl", s)
    write("lookalike.jsonl", la)
    print("sensitive: %d messages, look-alikes: %d" % (len(s), len(la)))
