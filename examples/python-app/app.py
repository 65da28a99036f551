"""A small WSGI app for examples/python-app.yaml: /healthz for umbra's
health check, / answers with the greeting from settings.ini (read at
start and again when gunicorn reloads its workers on SIGHUP)."""
import configparser
import json
import os

_cfg = configparser.ConfigParser()
_cfg.read(os.path.join(os.environ["APP_CONFIG_DIR"], "settings.ini"))
GREETING = _cfg.get("app", "greeting", fallback="hello")


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/healthz":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    body = json.dumps({"greeting": GREETING}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
