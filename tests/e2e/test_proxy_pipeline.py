"""Pipelined shadow copies (shadow.pipeline): copies queued while the
shadow's only connection is busy go out together, several requests in one
write, and each is still answered, paired and counted exactly once; a
shadow that resets mid-batch costs exactly the copies it did not answer;
a shadow that closes after every response loses none. The shadow here is
a raw-socket server that records what arrived in each recv(2).

The schedule is made deterministic by a shadow pool of one connection:
the first copy is held by the shadow until the test has sent the other
requests, so those copies queue and leave as one batch."""
import json
import socket
import struct
import threading

from lib import Proxy, RecordingServer, TestCase, http_exchange, testsvc


class BatchShadow(RecordingServer):
    """Answers GET requests (no bodies) in order. `hold` is an Event the
    first request's answer waits for. Per connection, `policy(conn_no,
    answered_before)` returns "answer", "close" (answer with Connection:
    close, then close) or "reset" (RST without answering). Records the
    number of requests in each recv, and the paths answered."""

    def __init__(self, policy=None):
        self.policy = policy or (lambda conn, n: "answer")
        self.hold = threading.Event()
        self.batches = []    # requests per recv
        self.answered = []   # paths
        self.first = True
        super().__init__()

    def _serve(self, c, conn_no):
        buf = b""
        served = 0
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                buf += data
                reqs = []
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    reqs.append(head.split(b" ")[1])
                with self.lock:
                    self.batches.append(len(reqs))
                for path in reqs:
                    with self.lock:
                        first, self.first = self.first, False
                    if first:
                        self.hold.wait(10)
                    what = self.policy(conn_no, served)
                    if what == "reset":
                        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
                        c.close()
                        return
                    body = b'{"path":"%s"}' % path
                    close = what == "close"
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: "
                              b"application/json\r\nContent-Length: %d\r\n"
                              b"%s\r\n" % (len(body), b"Connection: close\r\n"
                                           if close else b"") + body)
                    served += 1
                    with self.lock:
                        self.answered.append(path)
                    if close:
                        c.close()
                        return
        except OSError:
            return

    def stop(self):
        self.hold.set()
        super().stop()


def config(tc, prod, shadow, pipeline=None):
    extra = f"  pipeline: {pipeline}\n" if pipeline else ""
    return tc.write("u.yaml", f"""service: t
listen:
  workers: 1
production:
  upstreams: [127.0.0.1:{prod}]
shadow:
  upstreams: [{shadow.addr}]
  ratio: 1
  pool_size: 1
  response_timeout: 30s
{extra}""")


class PipelineTest(TestCase):
    N = 9  # one held copy, then a batch of 8 (the default depth)

    def run_requests(self, policy=None, pipeline=None):
        """Starts production, a BatchShadow (with policy) and the proxy
        (with shadow.pipeline), and sends N requests; the first copy is
        held at the shadow until all N production answers are back.
        Checks production's bytes against a direct request. Returns the
        proxy and the shadow."""
        prod = testsvc(self)
        sh = BatchShadow(policy)
        self.addCleanup(sh.stop)
        px = Proxy(self, "--config", config(self, prod, sh, pipeline))
        for i in range(self.N):
            raw = b"GET /users/%d HTTP/1.1\r\nHost: h\r\n\r\n" % i
            got = http_exchange(px.port, raw)
            want = http_exchange(prod, raw)
            self.assertEqual(len(got), 1)
            self.assertIn(b"200 OK", got[0][0])
            self.assertEqual(got[0][1], want[0][1])
            self.assertEqual(json.loads(got[0][1])["id"], str(i))
        px.wait_counter("requests", self.N)
        self.px = px  # for a policy that waits on the proxy's counters
        sh.hold.set()
        return px, sh

    def test_batch_paired_and_counted(self):
        px, sh = self.run_requests()
        c = px.wait_counter("mirror_done", self.N)
        self.assertEqual(c["mirrored"], str(self.N))
        self.assertEqual(c["shadow_errors"], "0")
        self.assertEqual(c["dropped"], "0")
        # every copy was paired and compared once
        c = px.wait_counter("differed", self.N)
        self.assertEqual(c["matched"], "0")
        self.assertEqual(sorted(sh.answered),
                         sorted(b"/users/%d" % i for i in range(self.N)))
        # the 8 queued copies arrived together, on the one connection
        self.assertEqual(sh.batches, [1, 8])
        self.assertEqual(len(sh.conns), 1)
        self.assertEqual(px.stop(), 0)

    def test_depth_one_is_one_copy_per_write(self):
        px, sh = self.run_requests(pipeline=1)
        c = px.wait_counter("mirror_done", self.N)
        self.assertEqual(c["shadow_errors"], "0")
        self.assertEqual(sh.batches, [1] * self.N)
        self.assertEqual(px.stop(), 0)

    def test_depth_caps_the_batch(self):
        px, sh = self.run_requests(pipeline=3)
        c = px.wait_counter("mirror_done", self.N)
        self.assertEqual(c["shadow_errors"], "0")
        self.assertEqual(sh.batches, [1, 3, 3, 2])
        self.assertEqual(px.stop(), 0)

    def test_reset_mid_batch_counts_each_lost_copy_once(self):
        def policy(conn, served):
            # connection 1: the held copy and 3 of the batch answered
            if conn == 1 and served == 4:
                # umbra has read the 3 answers (and the held one) first
                self.px.wait_counter("mirror_done", 4)
                return "reset"
            return "answer"
        px, sh = self.run_requests(policy)
        # the held copy and 3 of the batch answered; 5 lost to the reset
        c = px.wait_counter("shadow_errors", 5)
        c = px.wait_counter("mirror_done", 4)
        self.assertEqual(c["mirrored"], str(self.N))
        self.assertEqual(c["shadow_timeouts"], "0")
        self.assertEqual(c["dropped"], "0")
        self.assertEqual(c["queue"], "0")
        # the lost ones are still paired: recorded as shadow failures
        px.wait_counter("differed", 4)
        self.assertEqual(sh.batches, [1, 8])
        # production unaffected afterwards, and the shadow is used again
        r = http_exchange(px.port, b"GET /users/x HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertIn(b"200 OK", r[0][0])
        c = px.wait_counter("mirror_done", 5)
        self.assertEqual(c["shadow_errors"], "5")
        self.assertEqual(px.stop(), 0)

    def test_shadow_closing_after_each_response_loses_nothing(self):
        px, sh = self.run_requests(lambda conn, served: "close")
        c = px.wait_counter("mirror_done", self.N)
        self.assertEqual(c["mirrored"], str(self.N))
        self.assertEqual(c["shadow_errors"], "0")
        self.assertEqual(c["dropped"], "0")
        px.wait_counter("differed", self.N)
        # each copy answered once; the 7 behind the first close were
        # sent again, one per connection
        self.assertEqual(sorted(sh.answered),
                         sorted(b"/users/%d" % i for i in range(self.N)))
        self.assertEqual(sh.batches, [1, 8] + [1] * 7)
        self.assertIn("shadow closes pipelined connections", px.text())
        self.assertEqual(px.stop(), 0)
