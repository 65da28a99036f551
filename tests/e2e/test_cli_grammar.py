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
            "drift", "export", "mask", "stress", "snapshots", "check-config",
            "completion"]
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

    def test_every_output_flag_takes_table_json_yaml(self):
        with_o = [c for c in COMMANDS if options(c).get("output") == "o"]
        self.assertTrue({"status", "findings", "actions", "events",
                         "timeline", "release", "propose", "snapshots",
                         "check-config", "capture", "replay"} <= set(with_o))
        for cmd in with_o:
            r = run(cmd, "-o", "xml")
            self.assertEqual(r.returncode, 2, (cmd, r.stderr))
            self.assertIn(f"umbra {cmd}: bad -o 'xml' (expected table, "
                          "json or yaml)", r.stderr)

    def test_events_kind_takes_the_listed_type(self):
        # `events list` prints type config_change: --kind takes it back
        cfg = self.write("c.yaml", "service: grammar\nproduction:\n"
                         "  upstreams: [127.0.0.1:1]\napi:\n"
                         f"  token_file: {self.tmp}/none.token\n")
        for kind in ("config", "config_change"):
            r = run("events", "list", cfg, "--kind", kind)
            self.assertEqual(r.returncode, 1, r.stderr)  # no token yet
            self.assertIn("API token file", r.stderr)
        r = run("events", "list", cfg, "--kind", "cfg")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("config or config_change", r.stderr)

    def test_version_anywhere(self):
        for cmd in COMMANDS:
            r = run(cmd, "--version")
            self.assertEqual(r.returncode, 0, (cmd, r.stderr))
            self.assertRegex(r.stdout, r"^umbra \d+\.\d+\.\d+")


class TimeFlagTest(TestCase):
    """Every time flag takes 1h, -1h and an RFC 3339 time, and refuses
    what is none of them with exit 2, before asking anything. No daemon
    runs here: a good time gets as far as the missing API token (exit 1,
    said as such) or the missing store."""

    GOOD = ["1h", "-1h", "2026-01-31T12:00:00Z", "2026-01-31T13:00:00.5+01:00"]
    BAD = ["yesterday", "2026-01-31T12:00:00", "1h-"]

    def flags(self, cfg, db):
        # (argv before the flag, the flag, argv after it)
        return [
            (["findings", cfg], "--since", []),
            (["findings", cfg], "-s", []),
            (["actions", cfg], "--since", []),
            (["events", "list", cfg], "--since", []),
            (["events", "add", cfg, "-k", "note", "-m", "x"], "--start", []),
            (["events", "add", cfg, "-k", "note", "-m", "x",
              "--start", "2020-01-01T00:00:00Z"], "--end", []),
            (["export", "--db", db, "--series", "cpu"], "--from", []),
            (["export", "--db", db, "--series", "cpu",
              "--from", "2020-01-01T00:00:00Z"], "--to", []),
        ]

    def test_time_flags(self):
        cfg = self.write("c.yaml", "service: grammar\nproduction:\n"
                         "  upstreams: [127.0.0.1:1]\napi:\n"
                         f"  token_file: {self.tmp}/none.token\n")
        db = os.path.join(self.tmp, "none.db")
        for pre, flag, post in self.flags(cfg, db):
            name = flag if flag.startswith("--") else "--since"
            for t in self.GOOD:
                r = run(*pre, flag, t, *post)
                self.assertEqual(r.returncode, 1, (pre, flag, t, r.stderr))
                self.assertNotIn(f"bad {name}", r.stderr)
                self.assertTrue("API token file" in r.stderr
                                or "cannot read the store" in r.stderr,
                                r.stderr)
            for t in self.BAD:
                r = run(*pre, flag, t, *post)
                self.assertEqual(r.returncode, 2, (pre, flag, t, r.stderr))
                self.assertIn(f"bad {name} '{t}'", r.stderr)


class OutputTest(TestCase):
    """Every read command with -o json (parsed), -o yaml and -o table,
    against one real daemon (the config of test_client.py)."""

    def test_read_commands_output(self):
        import json
        import tempfile
        from lib import UMBRA, free_port, start, stop, wait_port, wait_until
        from test_client import config
        for d in ("conf", "sconf"):
            os.makedirs(os.path.join(self.tmp, d))
            with open(os.path.join(self.tmp, d, "svc.conf"), "w") as f:
                f.write("cpu_ms = 0.1\nbody_bytes = 64\n")
        os.chmod(self.tmp, 0o711)
        lport, aport = free_port(), free_port()
        cfg = config(self.tmp, lport, aport)
        log = open(os.path.join(self.tmp, "umbra.log"), "w")
        p = start([UMBRA, "run", cfg], stderr=log, cwd=self.tmp)
        try:
            wait_port(aport, timeout=15, proc=p)
            # the first snapshot is taken at start; wait for it
            wait_until(lambda: run("snapshots", "list", cfg, "-o", "json",
                                   cwd=self.tmp).stdout.strip() not in
                       ("", "[]"), 15, "the first snapshot")
            reads = [["status", cfg], ["findings", cfg], ["actions", cfg],
                     ["events", "list", cfg], ["timeline", cfg],
                     ["release", cfg], ["propose", cfg, "--status"],
                     ["snapshots", "list", cfg], ["snapshots", "show", cfg],
                     ["drift", cfg]]
            for args in reads:
                outs = {}
                for fmt in ("json", "yaml", "table"):
                    r = run(*args, "-o", fmt, cwd=self.tmp)
                    # status may say 3 (needs a person), propose --status
                    # 1 when there was none: never 2, never a crash
                    self.assertIn(r.returncode, (0, 1, 3),
                                  (args, fmt, r.stderr))
                    if args[0] == "propose" and r.returncode == 1:
                        break
                    outs[fmt] = r.stdout
                if not outs:
                    continue
                doc = json.loads(outs["json"])  # parses
                if args[:2] == ["snapshots", "list"]:
                    self.assertTrue(doc and doc[0]["current"], doc)
                    self.assertRegex(doc[0]["taken"],
                                     r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
                if args[0] == "drift":
                    self.assertEqual(doc["twins"], not doc["differences"])
                if args[:2] == ["snapshots", "show"]:
                    self.assertEqual([f["path"] for f in doc["contents"]],
                                     ["svc.conf"])
                self.assertEqual(run(*args, "--json", cwd=self.tmp).stdout
                                 .splitlines()[:1],
                                 outs["json"].splitlines()[:1], args)
                self.assertTrue(outs["yaml"].strip(), args)
                if outs["yaml"].strip() not in ("[]", "{}"):
                    # block YAML, not JSON
                    with self.assertRaises(ValueError,
                                           msg=(args, outs["yaml"])):
                        json.loads(outs["yaml"])
                    self.assertRegex(outs["yaml"], r"(?m)^-? ?[a-z_]+:")
            r = run("status", cfg, "-o", "xml", cwd=self.tmp)
            self.assertEqual(r.returncode, 2)
            self.assertIn("bad -o 'xml' (expected table, json or yaml)",
                          r.stderr)
            r = run("status", cfg, "--json", "-o", "yaml", cwd=self.tmp)
            self.assertEqual(r.returncode, 2)
        finally:
            stop(p)
            log.close()


class CompletionTest(TestCase):
    """`umbra completion bash` is generated from the command table:
    run it in a real bash and ask it what it completes."""

    def complete(self, script, words):
        import subprocess
        import shlex as sh
        prog = (script + "\nCOMP_WORDS=(" +
                " ".join(sh.quote(w) for w in words) + ")\n"
                f"COMP_CWORD={len(words) - 1}\n_umbra\n"
                'printf "%s\\n" "${COMPREPLY[@]}"\n')
        r = subprocess.run(["bash", "--norc", "-c", prog], cwd=self.tmp,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return set(r.stdout.split())

    def test_bash(self):
        r = run("completion", "bash")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = r.stdout
        self.assertEqual(self.complete(s, ["umbra", "fin"]), {"findings"})
        self.assertTrue({"run", "status", "export", "completion"} <=
                        self.complete(s, ["umbra", ""]))
        self.assertEqual(self.complete(s, ["umbra", "help", "snap"]),
                         {"snapshots"})
        self.assertEqual(self.complete(s, ["umbra", "findings", "--li"]),
                         {"--limit"})
        self.assertEqual(self.complete(s, ["umbra", "status", "-o", ""]),
                         {"table", "json", "yaml"})
        self.assertEqual(self.complete(s, ["umbra", "events", ""]),
                         {"list", "add"})
        self.assertEqual(self.complete(s, ["umbra", "snapshots", "d"]),
                         {"diff"})
        self.assertEqual(self.complete(s, ["umbra", "--log-level", "w"]),
                         {"warn"})
        # every option of every command, as `umbra help` lists it
        for cmd in COMMANDS:
            got = self.complete(s, ["umbra", cmd, "--"])
            self.assertTrue(set("--" + o for o in options(cmd)) <= got, cmd)
        # files after an option that takes one
        self.write("c.yaml", "x")
        self.assertEqual(self.complete(s, ["umbra", "export", "--db", "c."]),
                         {"c.yaml"})

    def test_zsh_and_bad_shell(self):
        r = run("completion", "zsh")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("#compdef umbra\n"))
        self.assertIn("bashcompinit", r.stdout)
        self.assertIn("complete -o filenames -F _umbra umbra", r.stdout)
        r = run("completion", "fish")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown shell 'fish'", r.stderr)


class OfflineOutputTest(TestCase):
    def test_check_config_output(self):
        import json
        cfg = self.write("c.yaml", "service: grammar\nproduction:\n"
                         "  upstreams: [127.0.0.1:1]\n")
        j = run("check-config", cfg, "-o", "json")
        self.assertEqual(j.returncode, 0, j.stderr)
        self.assertEqual(json.loads(j.stdout)["service"], "grammar")
        self.assertEqual(run("check-config", cfg, "--json").stdout, j.stdout)
        y = run("check-config", cfg, "-o", "yaml")
        self.assertIn("service: grammar\n", y.stdout)
        self.assertEqual(run("check-config", cfg).stdout, y.stdout)

    def test_capture_output_is_for_stats(self):
        r = run("capture", "--pcap", "x.pcap", "-w", "y.ucap", "-o", "json")
        self.assertEqual(r.returncode, 2)
        self.assertIn("-o and --json are for --stats", r.stderr)
