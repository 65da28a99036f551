"""Real servers under umbra, as their users run them, without wrapper
scripts (issue 21): nginx from Debian run by umbra with {port} in its
config (production 2 replicas, the shadow 3), nginx attached with a
rewritten title, the refusal when umbra cannot tell how to start an
attached server's shadow, and check-config on every examples/*.yaml.
Skipped where the server is not installed."""
import glob
import os
import shutil
import subprocess

from lib import UMBRA, TestCase, free_port, start, stop, wait_until
from test_provision import WAIT, Umbra, get, get_ok

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
NGINX = shutil.which("nginx") or (
    "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

# A template: umbra renders {port} and {config_dir} for each replica.
NGINX_CONF = """worker_processes 1;
error_log stderr warn;
pid {config_dir}/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path {config_dir}/body;
    proxy_temp_path {config_dir}/proxy;
    fastcgi_temp_path {config_dir}/fastcgi;
    uwsgi_temp_path {config_dir}/uwsgi;
    scgi_temp_path {config_dir}/scgi;
    server {
        listen 127.0.0.1:{port};
        location = /healthz { return 200 "ok {port}\\n"; }
    }
}
"""
NGINX_CMD = ('[%s, -e, stderr, -c, "{config_dir}/nginx.conf", -g, '
             '"daemon off;"]')


def api_conf():
    return (f"listen:\n  address: 127.0.0.1:{free_port()}\n"
            f"api:\n  listen: 127.0.0.1:{free_port()}\n")


class ExamplesTest(TestCase):
    def test_check_config_accepts_every_example(self):
        paths = sorted(glob.glob(os.path.join(EXAMPLES, "*.yaml")))
        self.assertGreaterEqual(len(paths), 3)
        for path in paths:
            r = subprocess.run([UMBRA, "check-config", path],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, f"{path}:\n{r.stderr}")

    def test_check_config_names_an_unknown_placeholder(self):
        self.write("conf/nginx.conf", "events {}\nhttp {\n  server {\n"
                   "    listen 127.0.0.1:{port}; root {webroot};\n  }\n}\n")
        path = self.write("u.yaml", "service: web\nproduction:\n"
                          "  command: [nginx]\n  config_dir: conf\n")
        r = subprocess.run([UMBRA, "check-config", path],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(os.path.join(self.tmp, "conf/nginx.conf") +
                      ":4:35: production.config_dir: unknown placeholder "
                      "{webroot}", r.stderr)


class NginxTest(TestCase):
    def setUp(self):
        super().setUp()
        if not NGINX:
            self.skipTest("nginx is not installed")

    def test_production_and_three_shadow_replicas_render_port(self):
        """{port} in nginx.conf: 2 production and 3 shadow replicas each
        bind their own port and answer with it."""
        self.write("conf/nginx.conf", NGINX_CONF)
        user = "  user: www-data\n" if os.geteuid() == 0 else ""
        u = Umbra(self, "service: web\n" + api_conf() +
                  "production:\n  command: " + NGINX_CMD % NGINX + "\n"
                  "  config_dir: conf\n  replicas: 2\n" + user +
                  "  health: {type: http, path: /healthz, interval: 200ms}\n"
                  "shadow:\n  replicas: 3\n"
                  "drift:\n  ignore: ['config:nginx.pid']\n")
        for side, n in (("production", 2), ("shadow", 3)):
            for i in range(n):
                addr, _ = u.up(side, i)
                st, body = get(addr, "/healthz")
                self.assertEqual((st, body),
                                 (200, f"ok {addr.rsplit(':', 1)[1]}\n"))
        with open(os.path.join(self.tmp, "conf/nginx.conf")) as f:
            self.assertEqual(f.read(), NGINX_CONF)  # templates untouched
        self.assertEqual(u.stop(), 0)
        self.assertNotIn("drift finding", u.log())


class NginxAttachTest(TestCase):
    def setUp(self):
        super().setUp()
        if not NGINX:
            self.skipTest("nginx is not installed")
        self.port = free_port()
        prod = self.write("prod/nginx.conf", NGINX_CONF.replace(
            "{port}", str(self.port)).replace(
            "{config_dir}", os.path.join(self.tmp, "prod")))
        self.write("shadowconf/nginx.conf", NGINX_CONF)
        self.nginx = start([NGINX, "-e", "stderr", "-c", prod, "-g",
                            "daemon off;"])
        self.addCleanup(stop, self.nginx)
        wait_until(lambda: get_ok(self.port), WAIT, "nginx answering")
        with open(f"/proc/{self.nginx.pid}/cmdline", "rb") as f:
            self.assertTrue(f.read().startswith(b"nginx: master process"),
                            "nginx did not rewrite its title")

    def conf(self, attach_extra):
        return ("service: web\n" + api_conf() +
                f"production:\n  attach:\n    pid: {self.nginx.pid}\n"
                f"    url: http://127.0.0.1:{self.port}/\n{attach_extra}"
                f"  config_dir: prod\n"
                "  health: {type: http, path: /healthz, interval: 200ms}\n"
                "shadow:\n  config_dir: shadowconf\n")

    def test_attach_with_command_brings_up_the_shadow(self):
        u = Umbra(self, self.conf("    command: " + NGINX_CMD % NGINX +
                                  "\n"))
        addr, pid = u.up("production")
        self.assertEqual(pid, self.nginx.pid)
        saddr, _ = u.up("shadow")
        st, body = get(saddr, "/healthz")
        self.assertEqual((st, body), (200, f"ok {saddr.rsplit(':', 1)[1]}\n"))
        self.assertEqual(u.stop(), 0)
        self.assertIsNone(self.nginx.poll(), "umbra stopped its production")

    def test_attach_without_a_command_refuses_naming_what_to_set(self):
        u = Umbra(self, self.conf(""))
        rc = u.proc.wait(timeout=30)
        log = u.log()
        self.assertNotEqual(rc, 0, log)
        self.assertIn("rewrote its title", log)
        self.assertIn("production.attach.command", log)
        self.assertIn("production.attach.unit", log)
        self.assertIsNone(self.nginx.poll())
