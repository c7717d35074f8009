"""The application configuration file and finding registered applications."""

import importlib.metadata
import logging
import os
import sys

import pytest

from nagare.config import application
from nagare.errors import ConfigError, NagareError


def write(folder, text, name="myapp.cfg"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults(tmp_path):
    filename = write(tmp_path / "conf", "[application]\npath = python os:getcwd\nname = myapp\n")
    conf = application.read(filename)
    assert conf.filename == filename
    assert conf.name == "myapp"
    assert conf.root == str(tmp_path)  # $root of a plain file: $here/..
    assert conf.application.as_dict() == {
        "path": "python os:getcwd",
        "name": "myapp",
        "debug": False,
        "redirect_after_post": False,
        "always_html": True,
        "wsgi_pipe": "",
        "static": f"{tmp_path}/static",
    }
    assert conf.databases == () and conf.sessions == {}
    assert conf.logging.handler is None and conf.logging.logger.level is None


def test_here_root_and_name(tmp_path):
    filename = write(
        tmp_path / "conf",
        "[application]\npath = file $here/../app.py:App\nname = shop\nstatic = $root/$name-files\n"
        "[custom]\nlog = $here/$name.log\n",
    )
    conf = application.read(filename)
    assert conf.application.path == f"file {tmp_path}/conf/../app.py:App"
    assert conf.application.static == f"{tmp_path}/shop-files"
    assert conf.config.items("custom") == {"log": f"{tmp_path}/conf/shop.log"}  # custom sections allowed


def test_the_whole_file_for_the_application_custom_sections_included(tmp_path):
    filename = write(
        tmp_path / "conf",
        "[application]\npath = a:b\nname = shop\ndebug = on\nstatic = $here/$$static\n"
        "[sessions]\nnb_states = 3\n"
        "[shop]\nlog = $here/$name.log\nprice = 10\n[[nested]]\ntop = $root\n",
    )
    conf = application.read(filename, {"always_html": False}).as_configobj()
    assert conf["shop"]["log"] == f"{tmp_path}/conf/shop.log" and conf["shop"].as_int("price") == 10
    assert conf["shop"]["nested"]["top"] == str(tmp_path)
    assert conf["sessions"]["nb_states"] == "3"  # our other sections as written
    # [application]: the checked values, with the command line's
    assert dict(conf["application"]) == {
        "path": "a:b", "name": "shop", "debug": True, "redirect_after_post": False, "always_html": False,
        "wsgi_pipe": "", "static": f"{tmp_path}/conf/$static",
    }


def test_the_configuration_of_a_reference_given_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conf = application.from_reference("python os:getcwd", "quick").as_configobj()
    assert conf["application"]["name"] == "quick" and conf["application"]["static"] == f"{tmp_path}/static"


def test_relative_static_is_relative_to_the_file(tmp_path, monkeypatch):
    filename = write(tmp_path / "conf", "[application]\npath = a:b\nname = x\nstatic = ../public\n")
    monkeypatch.chdir("/")
    assert application.read(filename).application.static == f"{tmp_path}/public"


def test_relative_file_name_is_made_absolute(tmp_path, monkeypatch):
    write(tmp_path / "conf", "[application]\npath = a:b\nname = x\n")
    monkeypatch.chdir(tmp_path)
    conf = application.read(os.path.join("conf", "myapp.cfg"))
    assert conf.filename == f"{tmp_path}/conf/myapp.cfg"
    assert conf.root == str(tmp_path)


def test_switches(tmp_path):
    filename = write(
        tmp_path,
        "[application]\npath = a:b\nname = x\ndebug = on\nredirect_after_post = yes\nalways_html = false\n",
    )
    settings = application.read(filename).application
    assert (settings.debug, settings.redirect_after_post, settings.always_html) == (True, True, False)


def test_sessions_logging_and_databases(tmp_path):
    filename = write(
        tmp_path,
        "[application]\npath = a:b\nname = x\n"
        "[sessions]\nnb_states = 5\n"
        "[logging]\n[[logger]]\nlevel = DEBUG\n[[handler]]\nclass = logging.StreamHandler\n"
        "[database]\nactivated = on\nuri = sqlite:///$here/x.db\n"
        "[[other]]\nuri = sqlite://\n",
    )
    conf = application.read(filename)
    assert conf.sessions == {"nb_states": "5"}
    assert conf.logging.logger.level == logging.DEBUG
    assert conf.logging.handler is not None and conf.logging.handler.class_ == "logging.StreamHandler"
    assert [d.uri for d in conf.databases] == [f"sqlite:///{tmp_path}/x.db", "sqlite://"]
    assert [d.activated for d in conf.databases] == [True, False]


def test_bad_database_key_names_the_subsection(tmp_path):
    filename = write(tmp_path, "[application]\npath = a:b\nname = x\n[database]\n[[other]]\nurl = x\n")
    with pytest.raises(ConfigError, match=r"\[database\]\[other\] url: unknown key"):
        application.read(filename)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[application]\nname = x\n", "[application] path: is required"),
        ("[application]\npath = \nname = x\n", "[application] path: is required"),
        ("[application]\npath = a:b\n", "[application] name: is required"),
        ("[application]\npath = a:b\nname = $name\n", "[application] name = '$name': is required"),
        ("[application]\npath = a:b\nname = my/app\n", "[application] name = 'my/app': must be one URL segment"),
        ("[application]\npath = a:b\nname = /\n", "[application] name = '/': must be one URL segment"),
        ("[other]\nkey = 1\n", "[application]: missing section"),
        ("[application]\npath = a:b\nname = x\ndebug = maybe\n", "[application] debug = 'maybe': expected on/off"),
        ("[application]\npath = a:b\nname = x\npth = a:b\n", "[application] pth: unknown key"),
        ("[application]\npath = $nope:b\nname = x\n", "[application] path = '$nope:b': unknown variable $nope"),
    ],
)
def test_errors_name_file_section_and_key(tmp_path, text, message):
    filename = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        application.read(filename)
    assert str(info.value).startswith(f"{filename}: {message}")
    assert "\n" not in str(info.value)


def test_slashes_around_the_name_are_dropped(tmp_path):
    filename = write(tmp_path, "[application]\npath = a:b\nname = /shop/\n")
    assert application.read(filename).name == "shop"


def test_missing_file_given_as_path(tmp_path):
    filename = str(tmp_path / "nope.cfg")
    with pytest.raises(ConfigError, match="application configuration file: no such file"):
        application.read(filename)


def test_from_reference(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conf = application.from_reference("python os:getcwd", "quick")
    assert conf.name == "quick"
    assert conf.application.path == "python os:getcwd"
    assert conf.application.static == f"{tmp_path}/static"


# --- registered applications --------------------------------------------------------------------


@pytest.fixture
def fakeapp(tmp_path, monkeypatch):
    """A package `fakeapp` with `conf/fakeapp.cfg`, importable, registered as `fakeapp`."""
    package = tmp_path / "src" / "fakeapp"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "app.py").write_text("class App:\n    pass\n")
    write(package / "conf", "[application]\npath = python fakeapp.sub.app:App\nname = fakeapp\n", "fakeapp.cfg")
    write(package / "conf", "[application]\npath = python fakeapp.sub.app:App\nname = other\n", "other.cfg")
    (package / "static").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    for name in list(sys.modules):
        if name.startswith("fakeapp"):
            monkeypatch.delitem(sys.modules, name)
    entries = {
        "fakeapp": importlib.metadata.EntryPoint("fakeapp", "fakeapp.sub.app:App", "nagare.applications"),
        "noconf": importlib.metadata.EntryPoint("noconf", "fakeapp.sub.app:App", "nagare.applications"),
    }
    monkeypatch.setattr(application, "registered", lambda: entries)
    return package


def test_package_dirs_innermost_first(fakeapp):
    assert application._package_dirs("fakeapp.sub.app") == [
        str(fakeapp / "sub"),
        str(fakeapp),
        str(fakeapp.parent),
    ]


def test_package_dirs_of_a_missing_module():
    assert application._package_dirs("no_such_module_here.x") == []


def test_find_registered(fakeapp):
    filename, root = application.find_registered("fakeapp")
    assert filename == str(fakeapp / "conf" / "fakeapp.cfg")
    assert root == str(fakeapp)


def test_read_a_registered_application(fakeapp):
    conf = application.read("fakeapp")
    assert conf.name == "fakeapp"
    assert conf.root == str(fakeapp)
    assert conf.application.static == str(fakeapp / "static")


def test_unregistered_name(fakeapp):
    with pytest.raises(NagareError, match="no application named 'nothing' is registered"):
        application.read("nothing")


def test_registered_without_a_configuration_file(fakeapp):
    with pytest.raises(NagareError, match=r"application 'noconf' \(fakeapp.sub.app:App\) has no conf/noconf.cfg"):
        application.find_registered("noconf")


def test_a_path_is_not_looked_up_as_a_name(fakeapp, tmp_path):
    filename = str(fakeapp / "conf" / "other.cfg")
    conf = application.read(filename)
    assert conf.name == "other"
    assert conf.root == str(fakeapp)  # $here/..
