"""Single-side anomalies in the real daemon (issue 27): `umbra run` feeds
each side's metrics through the default anomaly detector, and a metric
that freezes on the shadow becomes an analysis/anomaly finding that names
its kind ("stuck"), its side and its metric, while production keeps
moving.

The freeze is real: both sides run testsvc with a leak per request, so
their memory grows with every tick of load; the test then stops the
shadow's process (SIGSTOP), whose resident memory stops changing. The
detector needs a history of runs (100 changes, some seconds at 100 ms
ticks) before it speaks, then a run twice its usual length."""
import os
import signal

from lib import TestCase, wait_until
import test_loop

YAML = """service: {service}
listen:
  address: 127.0.0.1:{lport}
production:
  command: [{testsvc}, --port, "{{port}}", --leak-kib, "64"]
  replicas: 1
  health: {{type: none}}
shadow:
  ratio: 1
  work_dir: shadow
analysis:
  interval: 100ms
store:
  path: {db}
mitigation:
  scale: {{enabled: false}}
api:
  listen: 127.0.0.1:{aport}
"""


class AnomalyKindsTest(TestCase):
    def test_a_frozen_shadow_metric_is_a_stuck_finding(self):
        d = test_loop.Daemon(self, YAML)
        self.addCleanup(d.stop)
        test_loop.loadgen(self, d.lport, 40, 40)
        started = d.wait("provision", "replica started", side="shadow")
        pid = started["pid"]
        # A history of moving values on both sides: the mirror has
        # answered for a while (40 requests a second, ticks every 100 ms).
        wait_until(lambda: d.status()["proxy"]["mirror_answered"] > 600,
                   timeout=60, what="ten seconds of mirrored load")
        self.assertEqual(d.find("analysis", "anomaly", side="shadow",
                                kind="stuck"), [],
                         "no stuck finding while the shadow runs")
        os.kill(pid, signal.SIGSTOP)
        self.addCleanup(os.kill, pid, signal.SIGCONT)
        f = wait_until(lambda: d.find("analysis", "anomaly", side="shadow",
                                      kind="stuck"),
                       timeout=30, what="a stuck finding on the shadow")[0]
        # a stopped process freezes every series of its side (memory,
        # cpu, its traffic): whichever the detector names first
        self.assertIn(f["metric"], ("memory", "cpu", "net_rx", "net_tx",
                                    "disk_read", "disk_write"))
        self.assertGreater(f["score"], 0)
        # Production kept moving: nothing of it is stuck.
        self.assertEqual(d.find("analysis", "anomaly", side="production",
                                kind="stuck"), [])
