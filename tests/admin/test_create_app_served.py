"""`create-app`, then the generated project installed (editable, offline) and served for real."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from nagare.admin.create_rules import NAGARE_STATIC
from tests.support.browser import Browser
from tests.support.server import NagareServer, nagare_admin


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def missing_build_tools() -> str | None:
    """Why `pip install -e --no-build-isolation` cannot build here, or None."""
    try:
        setuptools = _version(importlib.metadata.version("setuptools"))
    except importlib.metadata.PackageNotFoundError:
        return "setuptools is not installed"
    if setuptools < (64,):
        return f"setuptools {setuptools} cannot install in editable mode (PEP 660 needs 64)"
    if setuptools < (70, 1) and importlib.util.find_spec("wheel") is None:
        # setuptools before 70.1 builds the editable wheel with the `wheel` package
        return "setuptools < 70.1 needs the `wheel` package: add it to the test dependencies"
    return None


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """myapp created by create-app, `pip install -e`'d into a prefix without network, and its environment."""
    reason = missing_build_tools()
    if reason:
        pytest.fail(f"cannot build the generated project offline: {reason}")
    tmp = tmp_path_factory.mktemp("created")
    created = nagare_admin("create-app", "myapp", "--dir", str(tmp))
    assert created.returncode == 0, created.stderr
    folder, prefix = tmp / "myapp", tmp / "prefix"
    pip = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-build-isolation",
            "--check-build-dependencies", "--disable-pip-version-check", "--prefix", str(prefix), "-e", str(folder),
        ],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    dist_infos = list(prefix.rglob("myapp-0.1.0.dist-info"))
    assert len(dist_infos) == 1, list(prefix.rglob("*"))
    # PYTHONPATH folders do not run .pth files (the editable finder): the project folder gives the
    # package, the site-packages the distribution and its entry point.
    path = [str(dist_infos[0].parent), str(folder)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    return {"tmp": tmp, "folder": folder, "env": {"PYTHONPATH": os.pathsep.join(path)}}


@pytest.fixture(scope="module")
def server(project):
    # Started in the folder create-app ran in, as the README says: `myapp` there is the project
    # folder, and `serve myapp` must still mean the registered application.
    server = NagareServer(["myapp"], project["tmp"], env=project["env"])
    yield server
    server.stop()


def test_the_installed_application_is_registered(project):
    listed = nagare_admin("serve", env=project["env"], cwd=project["tmp"])
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[1:] == [" - demo", " - myapp"]


def test_the_welcome_page_and_its_action(server):
    page = Browser().get(server.url + "/myapp/")
    assert page.status == 200
    assert page.text_of("h1") == "Welcome to Myapp"
    assert page.text_of("title") == "Myapp"
    assert "Clicked 0 times." in page.text_of("div.myapp")
    page = page.click('//a[text()="Click me"]')
    assert "Clicked 1 times." in page.text_of("div.myapp")
    page = page.click('//a[text()="Click me"]')
    assert "Clicked 2 times." in page.text_of("div.myapp")


def test_its_static_files_are_served(server):
    page = Browser().get(server.url + "/myapp/")
    hrefs = [link.get("href") for link in page.tree.cssselect("link[rel=stylesheet]")]
    assert "/static/myapp/myapp.css" in hrefs
    css = requests.get(server.url + "/static/myapp/myapp.css", timeout=10)
    assert css.status_code == 200 and css.text.startswith(".myapp {")


def test_create_rules_prints_its_static_folder(project):
    static = Path(project["folder"]) / "myapp" / "static"
    result = nagare_admin("create-rules", "--nginx", "myapp", env=project["env"], cwd=project["tmp"])
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        f"location /static/nagare/ {{\n  alias {NAGARE_STATIC}/;\n}}\n\n"
        f"location /static/myapp/ {{\n  alias {static}/;\n}}\n\n"
    )
    everything = nagare_admin("create-rules", "--apache", env=project["env"])
    assert f"RewriteRule ^/static/myapp/(.*)$ {static}/$1 [L]" in everything.stdout.splitlines()


def test_a_folder_named_like_the_application_does_not_hide_it(tmp_path):
    (tmp_path / "demo").mkdir()  # the project folder of `create-app demo`, say
    result = nagare_admin("create-rules", "--nginx", "demo", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert "location /static/demo/ {\n" in result.stdout
