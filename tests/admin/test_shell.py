"""`nagare-admin batch` and `shell`: Python with the applications loaded, as real processes."""

from __future__ import annotations

import json


from tests.support.server import nagare_admin

SCRIPT = """\
import json, sys
with open("result.json", "w") as f:
    json.dump({
        "argv": sys.argv,
        "name": app.name,
        "kind": app.kind,
        "apps": sorted(apps),
        "module": __name__,
        "root": type(app.wsgi.create_root().o).__name__,
    }, f)
"""


def test_batch_runs_the_file_with_the_application_loaded(tmp_path):
    (tmp_path / "script.py").write_text(SCRIPT)
    result = nagare_admin("batch", "demo", "script.py", "arg1", "--flag", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert json.loads((tmp_path / "result.json").read_text()) == {
        "argv": ["script.py", "arg1", "--flag"],
        "name": "demo",
        "kind": "nagare",
        "apps": ["demo"],
        "module": "__main__",
        "root": "Demo",
    }


def test_batch_exit_status_is_the_script_s(tmp_path):
    (tmp_path / "exit.py").write_text("import sys\nsys.exit(app.name == 'demo' and 4)\n")
    assert nagare_admin("batch", "demo", "exit.py", cwd=tmp_path).returncode == 4


def test_batch_with_a_missing_file_or_application_is_one_line(tmp_path):
    result = nagare_admin("batch", "demo", "nope.py", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "nagare-admin batch: nope.py: no such file\n"
    (tmp_path / "script.py").write_text(SCRIPT)
    result = nagare_admin("batch", "nosuchapp", "script.py", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "'nosuchapp'" in result.stderr
    assert not (tmp_path / "result.json").exists()


def test_shell_reads_python_from_stdin(tmp_path):
    result = nagare_admin("shell", "demo", stdin="print(sorted(apps))\nprint(app.name, app.kind)\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "['demo']" in result.stdout and "demo nagare" in result.stdout
    assert "Traceback" not in result.stderr


def test_shell_with_several_applications_has_no_app(tmp_path):
    other = tmp_path / "other.cfg"
    other.write_text("[application]\nname = other\npath = python nagare.demo.app:Demo\n")
    result = nagare_admin("shell", "demo", str(other), stdin="print(sorted(apps), 'app' in dir())\n", cwd=tmp_path)
    assert result.returncode == 0 and "['demo', 'other'] False" in result.stdout


def test_shell_output_from_stdin_is_only_the_script_s(tmp_path):
    result = nagare_admin("shell", "demo", stdin="print(sorted(apps))\n", cwd=tmp_path)
    assert result.stdout == "['demo']\n"


def test_shell_runs_a_script_with_blocks_from_stdin(tmp_path):
    script = "total = 0\nfor i in range(3):\n    total += i\nprint('total', total)\n"
    result = nagare_admin("shell", "demo", stdin=script, cwd=tmp_path)
    assert "SyntaxError" not in result.stderr and "total 3" in result.stdout


def test_shell_script_failure_is_an_error_status(tmp_path):
    result = nagare_admin("shell", "demo", stdin="1 / 0\nprint('after')\n", cwd=tmp_path)
    assert result.returncode != 0 and "ZeroDivisionError" in result.stderr
    assert "after" not in result.stdout
