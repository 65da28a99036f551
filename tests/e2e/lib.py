"""Helpers shared by the end-to-end tests: the binary under test, bounded
subprocess runs, free loopback ports, and a process registry that kills
every process group a test started, whatever way the test ends."""
import atexit
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

UMBRA = os.environ.get("UMBRA", "build/umbra")
TOOLS = os.environ.get("TOOLS", "build/tools")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_TIMEOUT = 30  # seconds; no single command in a test may take longer
# A sanitizer build (make SANITIZE=..., in build/san-*) runs the same tests.
SANITIZED = "/san-" in os.path.realpath(UMBRA)


def mem_bound(mb):
    """A peak-memory bound of mb MB for the plain build, as the build under
    test can hold it: ASan adds redzones around every allocation and keeps
    freed memory in a quarantine of 256 MB (quarantine_size_mb), so a
    sanitizer build gets twice the bound plus that."""
    return 2 * mb + 256 if SANITIZED else mb

_live = []


def _kill_all():
    for p in list(_live):
        stop(p, grace=0.5)


atexit.register(_kill_all)


def run(*args, timeout=DEFAULT_TIMEOUT, input=None, env=None, cwd=None):
    """Runs umbra with args; returns CompletedProcess (text, both streams)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([UMBRA, *args], capture_output=True, text=True,
                          timeout=timeout, input=input, env=e, cwd=cwd)


def start(argv, env=None, cwd=None, stdout=None, stderr=None, nofile=None):
    """Starts argv in its own process group; stop() or the test's end
    kills the whole group. nofile: its RLIMIT_NOFILE."""
    e = dict(os.environ)
    if env:
        e.update(env)
    pre = None
    if nofile:
        import resource

        def pre():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    p = subprocess.Popen(argv, env=e, cwd=cwd, start_new_session=True,
                         stdout=stdout or subprocess.DEVNULL,
                         stderr=stderr or subprocess.DEVNULL,
                         preexec_fn=pre)
    _live.append(p)
    return p


def stop(p, sig=signal.SIGTERM, grace=5.0):
    """Signals p's group, waits up to grace seconds, then SIGKILLs it.
    Returns the exit status."""
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass
    try:
        rc = p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = p.wait(timeout=5)
    # stragglers left in the group
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if p in _live:
        _live.remove(p)
    return rc


_given = set()


def free_port():
    """A TCP port free on 127.0.0.1 right now, and not handed out before
    in this run (two calls in a row may otherwise get the same one)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given:
            _given.add(port)
            return port


def wait_until(cond, timeout=10.0, what=None, interval=0.05):
    """Polls cond() until it returns a true value and returns that value;
    after timeout seconds fails the test, naming what was waited for and
    cond's last value. The one way a test waits: no outcome is decided by
    a fixed sleep, and a slow machine only makes the wait longer."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout} s for "
                                 f"{what or getattr(cond, '__name__', cond)}"
                                 f"; last value: {v!r}")
        time.sleep(interval)


def wait_port(port, timeout=10.0, proc=None):
    """Waits until something accepts on 127.0.0.1:port (fails at once
    if proc, the process that should listen, exits)."""
    def accepts():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return True
        except OSError:
            return False
    wait_until(accepts, timeout, f"something listening on :{port}")


def testsvc(tc, name="prod", *args):
    """The HTTP test service (tests/tools/testsvc.c) named name, with
    extra flags args, on a free port, stopped when tc ends. Returns the
    port."""
    port = free_port()
    p = start([os.path.join(TOOLS, "testsvc"), "--port", str(port),
               "--name", name, *args])
    wait_port(port, proc=p)
    tc.addCleanup(stop, p)
    return port


class TestCase(unittest.TestCase):
    """A test case with a private temporary directory and process
    cleanup."""

    def setUp(self):
        if os.environ.get("UMBRA_E2E_KEEP"):  # debugging: keep the files
            self.tmp = tempfile.mkdtemp(prefix="umbra-e2e-")
            self.addCleanup(print, f"\nkept {self.tmp}")
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="umbra-e2e-")
            self.tmp = self._tmp.name
            self.addCleanup(self._tmp.cleanup)
        # mkdtemp makes 0700: the shadow, which umbra run as root starts
        # as the unprivileged umbra-shadow, must pass through to its work
        # dir and the test's files (not list them).
        os.chmod(self.tmp, 0o711)
        self.addCleanup(_kill_all)

    def write(self, name, text, mode=0o644):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path


# ---------------------------------------------------------------- HTTP peers

import re
import threading


def read_http_message(sock_file, head_only=False):
    """Reads one HTTP/1.1 message (request or response) from a buffered
    binary file; returns (head_bytes, body_bytes) or None at EOF. Bodies
    framed by Content-Length or chunked (de-chunked)."""
    head = b""
    while True:
        line = sock_file.readline(65537)
        if not line:
            return None if not head else (head, b"")
        head += line
        if line in (b"\r\n", b"\n"):
            if head.strip():
                break
            head = b""
    if head_only:
        return head, b""
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if re.search(rb"(?im)^transfer-encoding:.*chunked", head):
        body = b""
        while True:
            size = int(sock_file.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while sock_file.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += sock_file.read(size)
            sock_file.readline()
        return head, body
    if m:
        return head, sock_file.read(int(m.group(1)))
    if head.startswith(b"HTTP/") and not re.match(
            rb"HTTP/1\.\d (1\d\d|204|304)", head):
        return head, sock_file.read()  # close-delimited
    return head, b""


class RecordingServer:
    """A loopback HTTP/1.1 server that records every request it gets and
    answers according to `mode`: ok (200 JSON echo of the path), slow
    (answers after `delay` s), blackhole (reads, never answers), reset
    (closes at once with RST), garbage (answers bytes that are not HTTP),
    upgrade (101 then echoes bytes back). Runs in threads; stop() on
    cleanup. A subclass serves differently by overriding
    _serve(conn, conn_no) (conn_no counts connections from 1), setting
    its own state before calling __init__, which starts accepting."""

    def __init__(self, mode="ok", delay=0.0, name="shadow", body=None):
        self.mode, self.delay, self.name, self.body = mode, delay, name, body
        self.requests = []  # (head bytes, body bytes)
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.stopped = False
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.requests)

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(c)
                n = len(self.conns)
            threading.Thread(target=self._serve, args=(c, n),
                             daemon=True).start()

    def _serve(self, c, conn_no):
        import struct
        f = c.makefile("rb")
        try:
            while not self.stopped:
                if self.mode == "reset":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                    c.close()
                    return
                msg = read_http_message(f)
                if msg is None:
                    return
                with self.lock:
                    self.requests.append(msg)
                if self.mode == "blackhole":
                    continue
                if self.mode == "garbage":
                    c.sendall(b"\x00\x01garbage, not HTTP\r\n\r\n")
                    c.close()
                    return
                if self.mode == "slow":
                    # the scenario's slow server: decides no outcome
                    time.sleep(self.delay)
                if self.mode == "upgrade":
                    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\n"
                              b"Upgrade: echo\r\nConnection: Upgrade\r\n\r\n")
                    while True:
                        data = c.recv(65536)
                        if not data:
                            return
                        c.sendall(data)
                body = self.body() if callable(self.body) else self.body
                body = body if body is not None else (
                    b'{"served_by":"%s","path":"%s"}' % (
                        self.name.encode(),
                        msg[0].split(b" ")[1]))
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: "
                          b"application/json\r\nContent-Length: %d\r\n\r\n"
                          % len(body) + body)
        except OSError:
            return

    def stop(self):
        self.stopped = True
        try:
            self.sock.close()
        except OSError:
            pass
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def dead_port():
    """A loopback port nothing listens on (connect is refused)."""
    return free_port()


def http_exchange(port, raw, timeout=10.0, responses=1, head_only=False):
    """Sends raw request bytes on a new connection and reads `responses`
    responses; returns a list of (head, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        s.sendall(raw)
        f = s.makefile("rb")
        out = []
        for _ in range(responses):
            m = read_http_message(f, head_only=head_only)
            if m is None:
                break
            out.append(m)
        return out
    finally:
        s.close()


def parse_logfmt(line):
    """key=value pairs of one logfmt record (values may be quoted)."""
    out = {}
    for m in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line):
        v = m.group(2)
        if v.startswith('"'):
            v = bytes(v[1:-1], "utf-8").decode("unicode_escape")
        out[m.group(1)] = v
    return out


class Proxy:
    """`umbra proxy` under test, with its stderr in a file; counters()
    reads the last stats record."""

    def __init__(self, tc, *args, env=None, nofile=None):
        self.port = free_port()
        self.log = os.path.join(tc.tmp, f"proxy-{self.port}.log")
        self.errf = open(self.log, "w")
        tc.addCleanup(self.errf.close)
        argv = [UMBRA, "proxy", "--listen", f"127.0.0.1:{self.port}",
                "--stats-interval", "200ms", *args]
        self.p = start(argv, stderr=self.errf, env=env, nofile=nofile)
        wait_port(self.port, proc=self.p)

    def counters(self):
        with open(self.log) as f:
            stats = [parse_logfmt(l) for l in f if 'msg="stats"' in l]
        return stats[-1] if stats else {}

    def wait_counter(self, key, value, timeout=10.0):
        """Waits until the stats record's key reads value; returns the
        record."""
        return self.wait_counters(timeout=timeout, **{key: value})

    def wait_counters(self, timeout=10.0, **want):
        """Waits until every key of want reads its value in one stats
        record; returns that record."""
        want = {k: str(v) for k, v in want.items()}

        def reached():
            c = self.counters()
            return c if all(c.get(k) == v for k, v in want.items()) else None
        return wait_until(reached, timeout, f"proxy counters {want}")

    def wait_copies_answered(self, timeout=10.0):
        """Waits until no copy is queued and every copy sent was answered
        (a healthy shadow); returns that stats record."""
        def answered():
            c = self.counters()
            return c if (c and c["queue"] == "0" and
                         c["mirrored"] == c["mirror_done"]) else None
        return wait_until(answered, timeout, "every copy answered")

    def status(self, key):
        """A field of /proc/PID/status in KiB (VmRSS, VmHWM...)."""
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise KeyError(key)

    def fds(self):
        """Descriptors the proxy holds now."""
        return len(os.listdir(f"/proc/{self.p.pid}/fd"))

    def cpu_seconds(self):
        """User + system CPU time the proxy used so far."""
        with open(f"/proc/{self.p.pid}/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()
        return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")

    def wait_for(self, pred, what, timeout=10.0):
        """Polls pred(counters) until true; returns the counters."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.counters()
            if c and pred(c):
                return c
            time.sleep(0.1)
        raise AssertionError(f"never {what}: {self.counters()}")

    def stop(self, sig=signal.SIGTERM):
        rc = stop(self.p, sig=sig, grace=15)
        self.errf.flush()
        return rc

    def text(self):
        with open(self.log) as f:
            return f.read()
