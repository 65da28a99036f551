"""The umbra binary's surface: help, version, unknown commands and options,
exit codes, logging flags."""
import json
import os

from lib import ROOT, TestCase, run


class CliTest(TestCase):
    def test_help_lists_commands(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("check-config", r.stdout)
        self.assertIn("usage: umbra", r.stdout)
        self.assertEqual(run("help").stdout, r.stdout)

    def test_no_command_is_usage_error(self):
        r = run()
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: umbra", r.stderr)

    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^umbra \d+\.\d+\.\d+")

    def test_command_help_three_ways(self):
        a = run("help", "check-config")
        b = run("check-config", "--help")
        c = run("check-config", "-h")
        for r in (a, b, c):
            self.assertEqual(r.returncode, 0)
            self.assertIn("usage: umbra check-config", r.stdout)
            self.assertIn("--format", r.stdout)
        self.assertEqual(a.stdout, b.stdout)

    def test_unknown_command_suggests(self):
        r = run("chek-config")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(
            r.stderr.strip(),
            "umbra: unknown command 'chek-config'; did you mean "
            "'check-config'? (see 'umbra --help')")
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

    def test_unknown_command_without_suggestion(self):
        r = run("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)

    def test_help_for_unknown_command(self):
        r = run("help", "nope")
        self.assertEqual(r.returncode, 2)

    def test_unknown_option_suggests(self):
        r = run("check-config", "--fromat", "json", "x.yaml")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(
            r.stderr.strip(),
            "umbra check-config: unknown option '--fromat'; did you mean "
            "'--format'? (see 'umbra check-config --help')")

    def test_unknown_global_option(self):
        r = run("--verbos")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option '--verbos'", r.stderr)

    def test_option_missing_value(self):
        r = run("check-config", "x.yaml", "--format")
        self.assertEqual(r.returncode, 2)
        self.assertIn("option '--format' needs a value (FMT)", r.stderr)

    def test_bad_log_level(self):
        r = run("--log-level", "loud", "check-config", "--reference")
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad --log-level 'loud'", r.stderr)
        r = run("check-config", "--reference", "--log-format=xml")
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad --log-format 'xml'", r.stderr)

    def test_too_many_arguments(self):
        r = run("check-config", "a.yaml", "b.yaml")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unexpected argument 'b.yaml'", r.stderr)


class CheckConfigTest(TestCase):
    def test_examples_are_valid(self):
        for name in ("umbra.yaml", "minimal.yaml"):
            path = os.path.join(ROOT, "examples", name)
            r = run("check-config", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("service:", r.stdout)
            self.assertIn(f"{path}: ok", r.stderr)

    def test_json_output(self):
        path = os.path.join(ROOT, "examples", "minimal.yaml")
        r = run("check-config", "--format", "json", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg = json.loads(r.stdout)
        self.assertEqual(cfg["service"], "checkout")
        self.assertEqual(cfg["shadow"]["ratio"], 0.1)
        self.assertEqual(cfg["analysis"]["metrics"]["cpu"]["threshold"], 0.1)

    def test_effective_yaml_reloads(self):
        path = os.path.join(ROOT, "examples", "umbra.yaml")
        r = run("check-config", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        again = self.write("effective.yaml", r.stdout)
        r2 = run("check-config", again)
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertEqual(r.stdout, r2.stdout)

    def test_errors_all_at_once_exit_2(self):
        path = self.write("bad.yaml", "service: api\nproduction:\n"
                          "  upstreams: [127.0.0.1:1]\nlisten:\n"
                          "  workers: 999\nmirror:\n  enabeld: true\n")
        r = run("check-config", path)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(lines, [
            f"{path}:5:12: listen.workers: out of range: \"999\" (expected "
            "an integer from 0 to 256)",
            f"{path}:7:3: mirror.enabeld: unknown key (did you mean "
            "\"enabled\"?)",
        ])

    def test_missing_file_exit_2_with_the_command(self):
        # README: 2 for bad usage and missing files, nothing was done
        none = os.path.join(self.tmp, "none.yaml")
        for args in (["check-config", none], ["status", none],
                     ["findings", none], ["events", "list", none],
                     ["export", none, "--list"], ["drift", none],
                     ["snapshots", "list", none]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(f"umbra {args[0]}: cannot load the config {none}",
                          r.stderr)
            self.assertIn("cannot open: No such file or directory",
                          r.stderr)

    def test_version_anywhere(self):
        for args in (["-V"], ["status", "--version"],
                     ["check-config", "x.yaml", "--version"],
                     ["events", "list", "--version"]):
            r = run(*args)
            self.assertEqual(r.returncode, 0, (args, r.stderr))
            self.assertRegex(r.stdout, r"^umbra \d+\.\d+\.\d+")

    def test_snapshot_bad_id_exits_2(self):
        conf = os.path.join(self.tmp, "conf")
        os.makedirs(conf)
        os.makedirs(os.path.join(self.tmp, "d", "snapshots"))
        cfg = self.write("c.yaml", (
            "service: snapcli\nproduction:\n  upstreams: [127.0.0.1:1]\n"
            f"  config_dir: {conf}\nstore:\n  path: {self.tmp}/d/u.db\n"))
        r = run("snapshots", "list", cfg, "-o", "json")
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, []),
                         r.stderr)
        r = run("snapshots", "diff", cfg, "-o", "json")
        self.assertEqual(r.returncode, 2, r.stderr)
        for args, why in ((["diff", cfg, "zzzz"], "bad snapshot"),
                          (["diff", cfg, "abcd", "current"], "no snapshot"),
                          (["show", cfg, "zzzz"], "bad snapshot")):
            r = run("snapshots", *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("umbra snapshots: " + why, r.stderr)

    def test_secret_file_too_open(self):
        key = self.write("mask.key", "k" * 32, mode=0o640)
        path = self.write("s.yaml", "service: api\nproduction:\n"
                          "  upstreams: [127.0.0.1:1]\nmask:\n"
                          f"  key_file: {key}\n")
        r = run("check-config", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("mode 0640", r.stderr)
        os.chmod(key, 0o600)
        self.assertEqual(run("check-config", path).returncode, 0)

    def test_inactive_fields_reported(self):
        path = self.write("a.yaml", "service: api\nproduction:\n"
                          "  upstreams: [127.0.0.1:1]\napi:\n"
                          "  dashboard: false\nshadow:\n  baseline:\n"
                          "    port: 9000\nanalysis:\n  interval: 2s\n")
        r = run("check-config", path)
        self.assertEqual(r.returncode, 0)
        self.assertNotIn("api: not active", r.stderr)
        self.assertNotIn("analysis.interval", r.stderr)
        self.assertNotIn("shadow.baseline.port", r.stderr)

    def test_reference_matches_docs(self):
        r = run("check-config", "--reference")
        self.assertEqual(r.returncode, 0)
        with open(os.path.join(ROOT, "docs", "config.md")) as f:
            self.assertEqual(r.stdout, f.read())
