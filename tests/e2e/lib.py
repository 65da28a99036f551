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


def start(argv, env=None, cwd=None, stdout=None, stderr=None):
    """Starts argv in its own process group; stop() or the test's end
    kills the whole group."""
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.Popen(argv, env=e, cwd=cwd, start_new_session=True,
                         stdout=stdout or subprocess.DEVNULL,
                         stderr=stderr or subprocess.DEVNULL)
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


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    """Waits until something accepts on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on :{port} after {timeout}s")


class TestCase(unittest.TestCase):
    """A test case with a private temporary directory and process
    cleanup."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="umbra-e2e-")
        self.tmp = self._tmp.name
        self.addCleanup(self._tmp.cleanup)
        self.addCleanup(_kill_all)

    def write(self, name, text, mode=0o644):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path
