"""One grammar for the command line (issue 23, point 6), checked over the
whole command table as `umbra help` prints it: no short flag with two
meanings, exit codes as the README says (2 for bad usage, bad flags, bad
ids and missing config files, naming the command), `--version`
anywhere."""
import os
import re

from lib import TestCase, run

COMMANDS = ["run", "status", "findings", "actions", "events", "timeline",
            "release", "propose", "proxy", "capture", "replay", "analyze",
            "drift", "export", "mask", "stress", "snapshots", "check-config"]
# commands that take a CONFIG as their first (or, after a subcommand,
# second) argument
CONFIG_ARGS = {"status": [], "findings": [], "actions": [],
               "events": ["list"], "timeline": [], "release": [],
               "propose": [], "drift": [], "export": [],
               "snapshots": ["list"], "check-config": [], "stress": [],
               "run": []}


def options(cmd):
    """{long: short or None} from `umbra help CMD`."""
    r = run("help", cmd)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^  (?:-(\w), )?--([a-z][a-z0-9-]*)", line)
        if m:
            out[m.group(2)] = m.group(1)
    return out


class GrammarTest(TestCase):
    def test_commands_listed_here_are_the_table(self):
        r = run("--help")
        listed = re.findall(r"^  ([a-z][a-z-]+) ", r.stdout, re.M)
        self.assertEqual([c for c in listed if c != "help"], COMMANDS)

    def test_no_short_flag_with_two_meanings(self):
        meaning = {}
        for cmd in COMMANDS:
            for long, short in options(cmd).items():
                if not short:
                    continue
                seen = meaning.setdefault(short, (long, cmd))
                self.assertEqual(
                    seen[0], long,
                    f"-{short} is --{seen[0]} in {seen[1]} but --{long} "
                    f"in {cmd}")
        # and each one is documented in the README's list
        with open(os.path.join(os.path.dirname(__file__), "..", "..",
                               "README.md")) as f:
            readme = f.read()
        for short, (long, _) in meaning.items():
            self.assertTrue(f"- `-{short}` `--{long}`" in readme,
                            f"-{short} (--{long}) is not in README.md")

    def test_missing_config_exits_2_naming_the_command(self):
        none = os.path.join(self.tmp, "none.yaml")
        for cmd, pre in CONFIG_ARGS.items():
            extra = {"propose": ["--config-dir", self.tmp],
                     "export": ["--list"]}.get(cmd, [])
            r = run(cmd, *pre, none, *extra)
            self.assertEqual(r.returncode, 2, (cmd, r.stderr))
            self.assertIn(f"umbra {cmd}: cannot load the config {none}",
                          r.stderr)

    def test_bad_flag_exits_2(self):
        for cmd in COMMANDS:
            r = run(cmd, "--no-such-flag")
            self.assertEqual(r.returncode, 2, (cmd, r.stderr))
            self.assertIn(f"umbra {cmd}: unknown option '--no-such-flag'",
                          r.stderr)
            r = run(cmd, "-Q")
            self.assertEqual(r.returncode, 2, (cmd, r.stderr))

    def test_version_anywhere(self):
        for cmd in COMMANDS:
            r = run(cmd, "--version")
            self.assertEqual(r.returncode, 0, (cmd, r.stderr))
            self.assertRegex(r.stdout, r"^umbra \d+\.\d+\.\d+")
