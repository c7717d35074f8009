"""`nagare-admin`: the command list, dispatching, and one-line errors with exit status 2."""

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys

import pytest

import nagare
from nagare.admin import command, main
from nagare.errors import CommandError, ConfigError
from tests.support.plugins import register_publisher

COMMAND_LINE = re.compile(r"^ - (\S+) : (.+)$")


def run(capsys, *argv):
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def listed_commands(text):
    return [m.group(1) for line in text.splitlines() if (m := COMMAND_LINE.match(line))]


def test_alone_lists_the_commands_on_stderr(capsys):
    code, out, err = run(capsys)
    assert code == 2 and out == ""
    names = listed_commands(err)
    assert names == sorted(names)
    assert {"serve", "serve-module", "create-app", "create-rules", "info", "shell", "batch"} <= set(names)
    assert " - info : Show the versions of Nagare" in err
    assert " - create-rules : Print the rules serving the static files" in err


def test_unknown_command(capsys):
    code, out, err = run(capsys, "srve")
    assert code == 2 and out == ""
    assert err.startswith("nagare-admin: unknown command 'srve'\n")
    assert "info" in listed_commands(err)


def test_help_lists_the_commands_and_succeeds(capsys):
    code, out, err = run(capsys, "--help")
    assert code == 0 and "create-app" in listed_commands(err)


def test_info(capsys):
    code, out, err = run(capsys, "info")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"Nagare {nagare.__version__}"
    assert lines[1].startswith(f"Python {platform.python_version()} ")
    assert f"configobj {importlib.metadata.version('configobj')}" in lines
    assert f"cloudpickle {importlib.metadata.version('cloudpickle')}" in lines
    assert "nagare.commands:" in lines
    assert " - info = nagare.admin.info:Info (nagare)" in lines
    assert " - standalone = nagare.sessions.memory:Sessions (nagare)" in lines


def test_info_settings_prints_every_table(capsys):
    code, out, err = run(capsys, "info", "--settings")
    assert (code, err) == (0, "")
    headings = [line for line in out.splitlines() if line.startswith("### ")]
    assert headings == [
        "### `[publisher] type = fastcgi`",
        "### `[publisher] type = standalone` (alias threaded)",
        "### `[reloader]`",
        "### `[sessions] type = memcache`",
        "### `[sessions] type = standalone` (alias pickle)",
        "### `[sessions] type = redis`",
        "### `[application]`",
        "### `[database]`",
        "### `[logging]` `[[logger]]`",
        "### `[logging]` `[[handler]]`",
        "### `[logging]` `[[formatter]]`",
    ]
    assert "| `minSpare` | `1` | more workers are forked when fewer are idle |" in out
    assert "| `path` | (required) |" in out
    # a type's table is complete: the common keys too
    standalone = out.split("### `[sessions] type = standalone`")[1].split("###")[0]
    assert "| `nb_sessions` | `10000` |" in standalone and "| `states_history` | `on` |" in standalone
    redis = out.split("### `[sessions] type = redis`")[1].split("###")[0]
    assert "| `url` |" in redis and "| `lock_max_waiters` | `10` |" in redis  # the keys it shares with memcache too


@pytest.fixture
def pool_publisher(monkeypatch):
    """A publisher type `pool` with rules across its keys; it never serves."""
    from nagare.config.rules import Rule, at_most
    from nagare.config.settings import Setting, Table, integer, string

    class Pool:
        SETTINGS = Table(
            "publisher",
            [
                Setting("type", string, "pool", ""), Setting("host", string, "", ""), Setting("port", integer(0), 9000, ""),
                Setting("status_port", integer(0), 9001, ""), Setting("minSpare", integer(0), 1, ""), Setting("maxSpare", integer(1), 5, ""),
            ],
            rules=[at_most("minSpare", "maxSpare"), Rule(("port", "status_port"), lambda a, b: a != b, "the status needs a port of its own")],
        )

    register_publisher(monkeypatch, "pool", Pool)


def test_a_broken_rule_is_one_line_and_exit_status_2(capsys, tmp_path, pool_publisher):
    conf = tmp_path / "publisher.conf"
    conf.write_text("[publisher]\ntype = pool\nminSpare = 6\n")
    code, out, err = run(capsys, "serve", "-c", str(conf), "demo")
    assert (code, out) == (2, "")
    assert err == f"nagare-admin serve: {conf}: [publisher] minSpare = 6, maxSpare = 5 (default): minSpare must not exceed maxSpare\n"


def test_a_rule_broken_by_the_command_line_names_it(capsys, tmp_path, pool_publisher):
    conf = tmp_path / "publisher.conf"
    conf.write_text("[publisher]\ntype = pool\nstatus_port = 8000\n")
    code, out, err = run(capsys, "serve", "-c", str(conf), "--port", "8000", "demo")
    assert (code, out) == (2, "")
    assert err == (
        f"nagare-admin serve: {conf}: [publisher] port = 8000 (command line), status_port = 8000: "
        "the status needs a port of its own\n"
    )


def test_wrong_option_is_one_line(capsys):
    code, out, err = run(capsys, "info", "--verbose")
    assert code == 2 and out == ""
    assert err == "nagare-admin info: unrecognized arguments: --verbose (see 'nagare-admin info --help')\n"


# --- dispatching, with commands of our own --------------------------------------------------------


class Fake(command.Command):
    desc = "A fake command"
    seen = []

    def set_arguments(self, parser):
        parser.add_argument("--fail", choices=["config", "command", "bug", "interrupt"])
        parser.add_argument("words", nargs="*")

    def run(self, args):
        Fake.seen.append(args.words)
        if args.fail == "config":
            raise ConfigError("app.cfg", "application", "debug", "maybe", "expected on/off")
        if args.fail == "command":
            raise CommandError("port in use", exit_code=3)
        if args.fail == "bug":
            raise RuntimeError("a real bug")
        if args.fail == "interrupt":
            raise KeyboardInterrupt
        return 0


class FakeEntry:
    def __init__(self, name, target):
        self.name, self.value, self.target = name, f"tests:{name}", target

    def load(self):
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


@pytest.fixture
def fake_commands(monkeypatch):
    entries = {"fake": FakeEntry("fake", Fake), "broken": FakeEntry("broken", ImportError("no renderer yet"))}
    monkeypatch.setattr(main, "entry_points", lambda group: entries)
    Fake.seen = []


def test_arguments_reach_the_command(capsys, fake_commands):
    code, _, _ = run(capsys, "fake", "a", "b")
    assert code == 0 and Fake.seen == [["a", "b"]]


def test_broken_command_is_listed_and_reported_in_one_line(capsys, fake_commands):
    code, _, err = run(capsys)
    assert code == 2
    assert " - fake : A fake command" in err
    assert " - broken : (broken: command 'broken' (tests:broken) cannot be loaded: ImportError: no renderer yet)" in err
    code, _, err = run(capsys, "broken")
    assert code == 2
    assert err == "nagare-admin broken: command 'broken' (tests:broken) cannot be loaded: ImportError: no renderer yet\n"


def test_user_error_is_one_line_exit_2(capsys, fake_commands):
    code, out, err = run(capsys, "fake", "--fail", "config")
    assert code == 2 and out == ""
    assert err == "nagare-admin fake: app.cfg: [application] debug = 'maybe': expected on/off\n"


def test_command_error_keeps_its_exit_code(capsys, fake_commands):
    code, _, err = run(capsys, "fake", "--fail", "command")
    assert code == 3 and err == "nagare-admin fake: port in use\n"


def test_bad_choice_is_one_line(capsys, fake_commands):
    code, _, err = run(capsys, "fake", "--fail", "nope")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("nagare-admin fake: argument --fail: invalid choice: 'nope'")


def test_a_bug_keeps_its_traceback(capsys, fake_commands):
    with pytest.raises(RuntimeError, match="a real bug"):
        main.main(["fake", "--fail", "bug"])


def test_interrupt_exits_130(capsys, fake_commands):
    code, _, _ = run(capsys, "fake", "--fail", "interrupt")
    assert code == 130


# --- the console script, in real processes ------------------------------------------------------


def nagare_admin():
    script = os.path.join(os.path.dirname(sys.executable), "nagare-admin")
    return script if os.path.exists(script) else shutil.which("nagare-admin")


def console(*argv, cwd=None):
    return subprocess.run([nagare_admin(), *argv], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_console_script_alone():
    result = console()
    assert result.returncode == 2 and result.stdout == ""
    assert "info" in listed_commands(result.stderr)
    assert "Traceback" not in result.stderr


def test_console_script_unknown_command_and_bad_option(tmp_path):
    result = console("nope")
    assert result.returncode == 2 and "unknown command 'nope'" in result.stderr
    result = console("create-app", "my-app", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == "nagare-admin create-app: 'my-app' is not a valid application name: use letters, digits and _\n"
    result = console("info", "-x")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_console_script_info_and_create_app(tmp_path):
    result = console("info")
    assert result.returncode == 0 and result.stdout.startswith(f"Nagare {nagare.__version__}\n")
    result = console("create-app", "consoleapp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "consoleapp" / "consoleapp" / "conf" / "consoleapp.cfg").is_file()


def test_a_closed_pipe_is_no_traceback():
    import subprocess
    import sys

    with subprocess.Popen([sys.executable, "-m", "nagare", "info"], stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        process.stdout.readline()
        process.stdout.close()  # the reader leaves, as `| head -1` does
        stderr = process.stderr.read().decode()
        process.wait(timeout=30)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
