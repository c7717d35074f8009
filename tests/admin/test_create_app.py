"""`nagare-admin create-app`: the project skeleton."""

import os
import tomllib

import pytest

from nagare.admin import main
from nagare.config import application, reference


def run(capsys, *argv):
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_creates_the_project(tmp_path, capsys):
    code, out, err = run(capsys, "create-app", "myshop", "--dir", str(tmp_path))
    assert (code, err) == (0, "")
    project = tmp_path / "myshop"
    assert out.splitlines()[0] == f"Application 'myshop' created in {project}"
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [
        "README.txt",
        "myshop/__init__.py",
        "myshop/app.py",
        "myshop/conf/myshop.cfg",
        "myshop/static/myshop.css",
        "pyproject.toml",
    ]
    # no template placeholder left behind
    for path in project.rglob("*"):
        if path.is_file():
            assert "$name" not in path.read_text() and "$Name" not in path.read_text()
            assert "PACKAGE" not in str(path)


def test_the_project_is_installable_and_registers_the_application(tmp_path, capsys):
    run(capsys, "create-app", "myshop", "--dir", str(tmp_path))
    project = tmp_path / "myshop"
    meta = tomllib.loads((project / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "myshop"
    assert "nagare" in meta["project"]["dependencies"]
    assert meta["project"]["entry-points"]["nagare.applications"] == {"myshop": "myshop.app:app"}
    assert set(meta["tool"]["setuptools"]["package-data"]["myshop"]) == {"conf/*.cfg", "static/**/*"}
    assert meta["build-system"]["build-backend"] == "setuptools.build_meta"


def test_the_configuration_reads_and_its_static_folder_exists(tmp_path, capsys):
    run(capsys, "create-app", "myshop", "--dir", str(tmp_path))
    package = tmp_path / "myshop" / "myshop"
    conf = application.read(str(package / "conf" / "myshop.cfg"))
    assert conf.name == "myshop"
    assert conf.application.path == "app myshop"
    # `$root` of a plain file is $here/..: the package folder, like a registered install
    assert conf.application.static == str(package / "static")
    assert os.path.isdir(conf.application.static)


def test_the_application_module_defines_a_root_factory(tmp_path, capsys):
    run(capsys, "create-app", "myshop", "--dir", str(tmp_path))
    factory = reference.load(f"file {tmp_path}/myshop/myshop/app.py:app")
    root = factory()
    assert type(root).__name__ == "Myshop"
    root.increase()
    assert root.clicks == 1


def test_the_generated_module_compiles(tmp_path, capsys):
    run(capsys, "create-app", "my_shop2", "--dir", str(tmp_path))
    source = (tmp_path / "my_shop2" / "my_shop2" / "app.py").read_text()
    compile(source, "app.py", "exec")
    assert "class My_shop2:" in source


def test_default_folder_is_the_current_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "create-app", "here_app")
    assert code == 0 and (tmp_path / "here_app" / "here_app" / "app.py").is_file()
    assert "pip install -e here_app" in out


def test_refuses_an_existing_folder(tmp_path, capsys):
    (tmp_path / "myshop").mkdir()
    (tmp_path / "myshop" / "keep.txt").write_text("mine")
    code, out, err = run(capsys, "create-app", "myshop", "--dir", str(tmp_path))
    assert code == 2 and out == ""
    assert err == f"nagare-admin create-app: {tmp_path}/myshop already exists\n"
    assert [p.name for p in (tmp_path / "myshop").iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("name", ["my-app", "1app", "my app", "class", "None", "café/x", "../evil", ""])
def test_refuses_an_invalid_name(tmp_path, capsys, name):
    code, out, err = run(capsys, "create-app", name, "--dir", str(tmp_path))
    assert code == 2 and out == ""
    assert err == f"nagare-admin create-app: '{name}' is not a valid application name: use letters, digits and _\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["json", "nagare", "os"])
def test_refuses_the_name_of_an_installed_module(tmp_path, capsys, name):
    code, _, err = run(capsys, "create-app", name, "--dir", str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and "already the name of an installed Python module" in err
    assert list(tmp_path.iterdir()) == []


def test_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "create-app", "myshop", "--dir", str(blocker))
    assert code == 2
    assert err.startswith(f"nagare-admin create-app: cannot create {blocker}/myshop: ")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_missing_name_and_wrong_option(capsys):
    code, _, err = run(capsys, "create-app")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("nagare-admin create-app: the following arguments are required: name")
    code, _, err = run(capsys, "create-app", "x", "--colour", "red")
    assert code == 2 and err.count("\n") == 1
    assert "unrecognized arguments: --colour red" in err
