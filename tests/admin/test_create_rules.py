"""`nagare-admin create-rules`: the front web server's rules for the static files."""

import importlib.metadata
import os
import shutil
import subprocess
import sys

import pytest

from nagare.admin import create_rules, main
from nagare.config import application

NAGARE_STATIC = create_rules.NAGARE_STATIC


def app_config(folder, name, with_static=True):
    """An application config file `<folder>/<name>/conf/<name>.cfg` ($root = <folder>/<name>)."""
    root = folder / name
    (root / "conf").mkdir(parents=True)
    if with_static:
        (root / "static").mkdir()
    path = root / "conf" / f"{name}.cfg"
    path.write_text(f"[application]\npath = os:getcwd\nname = {name}\n")
    return str(path)


def run(capsys, *argv):
    code = main.main(["create-rules", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_nagare_static_folder_is_the_package_one():
    import nagare

    assert NAGARE_STATIC == os.path.join(os.path.dirname(nagare.__file__), "static")


def test_apache_is_the_default(tmp_path, capsys):
    shop = app_config(tmp_path, "shop")
    for argv in ([shop], ["-a", shop], ["--apache", shop]):
        code, out, err = run(capsys, *argv)
        assert (code, err) == (0, "")
        assert out == (
            "RewriteEngine On\n"
            f"RewriteRule ^/static/nagare/(.*)$ {NAGARE_STATIC}/$1 [L]\n"
            f"RewriteRule ^/static/shop/(.*)$ {tmp_path}/shop/static/$1 [L]\n"
        )


def test_nginx(tmp_path, capsys):
    shop, blog = app_config(tmp_path, "shop"), app_config(tmp_path, "blog")
    for flag in ("-n", "--nginx"):
        code, out, _ = run(capsys, flag, shop, blog)
        assert code == 0
        assert out == (
            f"location /static/nagare/ {{\n  alias {NAGARE_STATIC}/;\n}}\n\n"
            f"location /static/shop/ {{\n  alias {tmp_path}/shop/static/;\n}}\n\n"
            f"location /static/blog/ {{\n  alias {tmp_path}/blog/static/;\n}}\n\n"
        )


def test_lighttpd(tmp_path, capsys):
    shop = app_config(tmp_path, "shop")
    for flag in ("-l", "--lighttpd"):
        code, out, _ = run(capsys, flag, shop)
        assert code == 0
        assert out == (
            "url.rewrite = (\n"
            f'  "^/static/nagare/(.*)" => "{NAGARE_STATIC}/$1",\n'
            f'  "^/static/shop/(.*)" => "{tmp_path}/shop/static/$1",\n'
            ")\n"
        )


def test_no_rule_for_an_application_without_static_folder(tmp_path, capsys):
    shop = app_config(tmp_path, "shop")
    bare = app_config(tmp_path, "bare", with_static=False)
    code, out, _ = run(capsys, shop, bare)
    assert code == 0
    assert "/static/bare/" not in out and "/static/shop/" in out
    assert out.count("RewriteRule") == 2


def test_static_folder_is_absolute_even_when_written_relative(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "conf" / "rel.cfg"
    (tmp_path / "conf").mkdir()
    (tmp_path / "public").mkdir()
    cfg.write_text("[application]\npath = os:getcwd\nname = rel\nstatic = ../public/\n")
    monkeypatch.chdir("/")
    code, out, _ = run(capsys, "-n", str(cfg))
    assert code == 0 and f"  alias {tmp_path}/public/;\n" in out


def test_several_servers_at_once_is_an_error(capsys):
    code, out, err = run(capsys, "-a", "-n")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("nagare-admin create-rules: argument -n/--nginx: not allowed with argument -a/--apache")


def test_bad_application_is_one_line(tmp_path, capsys):
    missing = str(tmp_path / "nope.cfg")
    code, out, err = run(capsys, missing)
    assert code == 2 and out == ""
    assert err == f"nagare-admin create-rules: {missing}: application configuration file: no such file\n"
    broken = tmp_path / "broken.cfg"
    broken.write_text("[application]\npath = os:getcwd\n")
    code, _, err = run(capsys, str(broken))
    assert code == 2 and err == f"nagare-admin create-rules: {broken}: [application] name: is required (a plain URL segment)\n"


def test_no_application_means_every_registered_one(tmp_path, capsys, monkeypatch):
    package = tmp_path / "src" / "regapp"
    (package / "conf").mkdir(parents=True)
    (package / "static").mkdir()
    (package / "__init__.py").write_text("")
    (package / "conf" / "regapp.cfg").write_text("[application]\npath = regapp:x\nname = regapp\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    entries = {"regapp": importlib.metadata.EntryPoint("regapp", "regapp:x", "nagare.applications")}
    monkeypatch.setattr(application, "registered", lambda: entries)
    code, out, _ = run(capsys, "-n")
    assert code == 0
    assert out == (
        f"location /static/nagare/ {{\n  alias {NAGARE_STATIC}/;\n}}\n\n"
        f"location /static/regapp/ {{\n  alias {package}/static/;\n}}\n\n"
    )


def test_rules_function_alone():
    statics = [("a", "/srv/a"), ("b", "/srv/b")]
    assert create_rules.rules(statics, "apache").splitlines()[0] == "RewriteEngine On"
    assert create_rules.rules([], "nginx") == ""
    assert create_rules.rules([], "lighttpd") == "url.rewrite = (\n)\n"


# --- real processes -----------------------------------------------------------------------------


def nagare_admin():
    script = os.path.join(os.path.dirname(sys.executable), "nagare-admin")
    return script if os.path.exists(script) else shutil.which("nagare-admin")


def test_console_script(tmp_path):
    shop = app_config(tmp_path, "shop")
    result = subprocess.run([nagare_admin(), "create-rules", "--nginx", shop], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"location /static/shop/ {{\n  alias {tmp_path}/shop/static/;\n}}\n\n")


LIGHTTPD_CONF = """\
server.modules = ( "mod_rewrite", "mod_fastcgi" )
server.document-root = "{root}"
server.errorlog = "{root}/error.log"
server.port = 8080
server.bind = "127.0.0.1"
fastcgi.server = ( "/fcgi" => ( ( "host" => "127.0.0.1", "port" => 9000, "check-local" => "disable" ) ) )
include_shell "{command}"
url.rewrite += (
    "^(.*)" => "/fcgi/$1"
)
"""


def need_lighttpd() -> None:
    # A missing server is a failure, not a skip: .ci/packages.txt installs it.
    if shutil.which("lighttpd") is None:
        pytest.fail("lighttpd is not installed (apt-get install lighttpd; see .ci/packages.txt)")


def test_lighttpd_accepts_the_rules_from_include_shell(tmp_path):
    need_lighttpd()
    shop = app_config(tmp_path, "shop")
    blog = app_config(tmp_path, "blog")
    conf = tmp_path / "lighttpd.conf"
    conf.write_text(LIGHTTPD_CONF.format(root=tmp_path, command=f"{nagare_admin()} create-rules --lighttpd {shop} {blog}"))
    result = subprocess.run(["lighttpd", "-tt", "-f", str(conf)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    # and lighttpd sees the rules: -p prints the configuration it parsed
    printed = subprocess.run(["lighttpd", "-p", "-f", str(conf)], capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    parsed = " ".join(printed.stdout.split())  # -p aligns the columns
    assert f'"^/static/nagare/(.*)" => "{NAGARE_STATIC}/$1", "^/static/shop/(.*)" => "{tmp_path}/shop/static/$1", ' \
        f'"^/static/blog/(.*)" => "{tmp_path}/blog/static/$1", "^(.*)" => "/fcgi/$1", )' in parsed


def test_lighttpd_refuses_a_failing_command(tmp_path):
    need_lighttpd()
    # the control case: a broken include_shell really is detected by `lighttpd -tt`
    conf = tmp_path / "lighttpd.conf"
    conf.write_text(LIGHTTPD_CONF.format(root=tmp_path, command=f"{nagare_admin()} create-rules --lighttpd {tmp_path}/nope.cfg"))
    result = subprocess.run(["lighttpd", "-tt", "-f", str(conf)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
