"""`nagare-admin serve` and `serve-module` as real processes: errors, mounting, static files, logs, signals."""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.browser import Browser
from tests.support.server import NagareServer, free_port, nagare_admin, port_is_free, wait_for_port

PLAIN = '''\
def app(environ, start_response):
    body = "plain SCRIPT_NAME={!r} PATH_INFO={!r}".format(environ["SCRIPT_NAME"], environ["PATH_INFO"]).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def pipe(app):
    def piped(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Piped", "yes")], exc_info)
        return app(environ, start)
    return piped
'''

VIEWS = '''\
import logging

from nagare import presentation


class Loud:
    app_name = "logs"

    def __init__(self):
        self.clicks = 0

    def click(self):
        self.clicks += 1


class Quiet(Loud):
    app_name = "quiet"


@presentation.render_for(Loud)
def render(self, h, comp, *args):
    logger = logging.getLogger("nagare.application." + self.app_name)
    logger.info("info line from %s", self.app_name)
    logger.debug("debug line from %s", self.app_name)
    h << h.p("clicks: ", self.clicks, id="clicks")
    h << h.a("click", id="click").action(self.click)
    return h.root


class Broken:
    pass


@presentation.render_for(Broken)
def render_broken(self, h, comp, *args):
    raise RuntimeError("secret detail 42")
'''


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def app_file(folder: Path, name: str, path: str, extra: str = "") -> str:
    return write(folder / f"{name}.cfg", f"[application]\nname = {name}\npath = {path}\n{extra}")


def wait_for_log(server: NagareServer, pattern: str, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = server.log()
        if re.search(pattern, log) or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def raw_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET `path` sent as it is (requests would normalise `//demo//`)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@contextlib.contextmanager
def sigint_not_ignored():
    """A child inherits an ignored SIGINT (pytest run in the background) and Python then leaves it
    ignored: give the server the disposition it has in a terminal."""
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous == signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)


# --- the list, and one-line errors --------------------------------------------------------------


def test_no_application_lists_the_registered_ones():
    result = nagare_admin("serve")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == "Available applications:"
    names = [line.removeprefix(" - ") for line in lines[1:]]
    assert all(line.startswith(" - ") for line in lines[1:])
    assert "demo" in names and names == sorted(names)


def one_line_error(result: subprocess.CompletedProcess[str], prog: str = "nagare-admin serve") -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), result.stderr
    assert result.stderr.startswith(f"{prog}: ")
    return result.stderr


BAD_INPUT = {  # id: (command line, what its one line must say); {x} is the file `x` of `bad_files`
    "bad-value": (["-c", "{port}", "demo"], ["{port}: [publisher] port = 'abc'", "whole number"]),
    "unknown-key": (["-c", "{key}", "demo"], ["{key}: [publisher] colour", "unknown key"]),
    "unknown-section": (["-c", "{section}", "demo"], ["{section}: [serveur]", "unknown section"]),
    "reloader-value": (["-c", "{reloader}", "demo"], ["{reloader}: [reloader] activated = 'maybe'"]),
    "sessions-value": (["-c", "{sessions}", "demo"], ["{sessions}: [sessions] nb_states = 'lots'"]),
    "missing-publisher-file": (["-c", "{missing}", "demo"], ["{missing}", "no such file"]),
    "missing-application-file": (["demo", "{missing}"], ["{missing}", "no such file"]),
    "unknown-application": (["nosuchapp"], ["'nosuchapp'", "registered"]),
    "missing-module": (["{module}"], ["{module}: [application] path = 'python no_such_module_zz:app'", "no_such_module_zz"]),
    "application-unknown-key": (["{appkey}"], ["{appkey}: [application] colour", "unknown key"]),
    "application-logging-level": (["{applog}"], ["{applog}: [logging][logger] level = 'LOUD'"]),
    "publisher-logging-level": (["-c", "{publog}", "demo"], ["{publog}: [logging][logger] level = 'LOUD'"]),
    "path-not-callable": (["{notfactory}"], ["{notfactory}: [application] path = ", "neither a root component factory nor a WSGI"]),
    "wsgi-pipe-not-callable": (["{pipe}"], ["{pipe}: [application] wsgi_pipe = ", "not callable"]),
    "same-name-twice": (["demo", "{twin}"], ["{twin}: [application] name = 'demo': already served by ", "/demo/conf/demo.cfg"]),
    "port-abc": (["--port", "abc", "demo"], ["command line: [publisher] port = 'abc'", "whole number"]),
    "port-70000": (["--port", "70000", "demo"], ["command line: [publisher] port = '70000'", "at most 65535"]),
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    """Configuration files, each with one mistake."""
    tmp = tmp_path_factory.mktemp("bad")
    write(tmp / "not_callable.py", "sep = '/'\n")
    return {
        "port": write(tmp / "port.cfg", "[publisher]\nport = abc\n"),
        "key": write(tmp / "key.cfg", "[publisher]\nport = 8080\ncolour = red\n"),
        "section": write(tmp / "section.cfg", "[publisher]\n[serveur]\nport = 1\n"),
        "reloader": write(tmp / "reloader.cfg", "[reloader]\nactivated = maybe\n"),
        "sessions": write(tmp / "sessions.cfg", "[sessions]\nnb_states = lots\n"),
        "missing": str(tmp / "missing.cfg"),
        "module": app_file(tmp, "nomodule", "python no_such_module_zz:app"),
        "appkey": app_file(tmp, "appkey", "python nagare.demo.app:Demo", "colour = red\n"),
        "publog": write(tmp / "publog.cfg", "[logging]\n[[logger]]\nlevel = LOUD\n"),
        "applog": app_file(tmp, "applog", "python nagare.demo.app:Demo", "[logging]\n[[logger]]\nlevel = LOUD\n"),
        "notfactory": app_file(tmp, "notfactory", f"file {tmp}/not_callable.py:sep"),
        "pipe": app_file(tmp, "pipe", "python nagare.demo.app:Demo", f"wsgi_pipe = file {tmp}/not_callable.py:sep\n"),
        "twin": app_file(tmp / "twin", "demo", "file /nowhere.py:app"),  # named demo, as the registered demo
        "tmp": str(tmp),
    }


@pytest.fixture(scope="module")
def bad_results(bad_files):
    """Every command of BAD_INPUT run at once (each is a whole Python start-up)."""

    def run(args):
        return nagare_admin("serve", *[a.format(**bad_files) for a in args], cwd=bad_files["tmp"])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = {case: pool.submit(run, args) for case, (args, _) in BAD_INPUT.items()}
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_with_status_2(bad_files, bad_results, case):
    line = one_line_error(bad_results[case])
    for text in BAD_INPUT[case][1]:
        assert text.format(**bad_files) in line, line


# --- several applications on one server -----------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """demo + plain WSGI + piped + an app with its own static folder + logging apps, on one port."""
    tmp = tmp_path_factory.mktemp("served")
    plain = write(tmp / "plain.py", PLAIN)
    views = write(tmp / "views.py", VIEWS)
    outside = write(tmp / "outside.txt", "outside the static folder\n")
    static = tmp / "withstatic" / "static"
    write(static / "file.css", ".mine { color: red }\n")
    write(static / "sub" / "deep.css", ".deep {}\n")
    (static / "inside.css").symlink_to("file.css")
    (static / "escape.txt").symlink_to(outside)
    (static / "escapedir").symlink_to(tmp)
    apps = [
        "demo",
        app_file(tmp, "plain", f"file {plain}:app"),
        app_file(tmp, "piped", "python nagare.demo.app:Demo", f"wsgi_pipe = file {plain}:pipe\nstatic = $here/nothing\n"),
        app_file(tmp, "pipedplain", f"file {plain}:app", f"wsgi_pipe = file {plain}:pipe\n"),
        app_file(tmp / "withstatic", "withstatic", f"file {plain}:app", "static = $here/static\n"),
        app_file(tmp, "logs", f"file {views}:Loud", "[logging]\n[[logger]]\nlevel = DEBUG\n"),
        app_file(tmp, "quiet", f"file {views}:Quiet"),
        app_file(tmp, "broken", f"file {views}:Broken"),
    ]
    server = NagareServer(apps, tmp)
    yield server
    server.stop()


def test_each_application_at_its_name(served):
    demo = Browser().get(served.url + "/demo/")
    assert demo.status == 200 and demo.find(".counter .value").text == "0"
    assert demo.response.cookies.get("_nagare")
    logs = Browser().get(served.url + "/logs/")
    assert logs.text_of("#clicks") == "clicks: 0"
    assert logs.click("#click").text_of("#clicks") == "clicks: 1"
    for name in ("demo", "logs"):
        status, headers, _ = raw_get(served.port, f"/{name}")
        assert status == 301 and headers["location"].endswith(f"/{name}/")


def test_double_slashes_are_collapsed(served):
    status, _, body = raw_get(served.port, "//demo//")
    assert status == 200 and b'class="counter"' in body
    status, _, body = raw_get(served.port, "//plain//a//b")
    assert (status, body) == (200, b"plain SCRIPT_NAME='/plain' PATH_INFO='/a/b'")


def test_nothing_matches_lists_the_applications(served):
    page = Browser().get(served.url + "/nothing/here")
    assert page.status == 404
    links = {a.get("href") for a in page.tree.cssselect("a")}
    assert links == {f"/{n}/" for n in ("demo", "plain", "piped", "pipedplain", "withstatic", "logs", "quiet", "broken")}
    assert Browser().get(served.url + "/").status == 200  # several applications: the list
    assert Browser().get(served.url + "/demox/").status == 404  # a prefix of a name is not the name


def test_a_plain_wsgi_callable_is_served_as_it_is(served):
    response = requests.get(served.url + "/plain/a/b?x=1", timeout=10)
    assert response.status_code == 200
    assert response.text == "plain SCRIPT_NAME='/plain' PATH_INFO='/a/b'"
    assert "_nagare" not in response.cookies and "set-cookie" not in response.headers
    status, _, body = raw_get(served.port, "/plain")  # no 301: the application decides
    assert (status, body) == (200, b"plain SCRIPT_NAME='/plain' PATH_INFO=''")


def test_wsgi_pipe_wraps_the_application(served):
    piped = requests.get(served.url + "/piped/", timeout=10)
    assert piped.status_code == 200 and piped.headers.get("X-Piped") == "yes"
    assert 'class="counter"' in piped.text and "_nagare" in piped.cookies
    plain = requests.get(served.url + "/pipedplain/x", timeout=10)
    assert plain.headers.get("X-Piped") == "yes" and plain.text.endswith("PATH_INFO='/x'")
    assert "X-Piped" not in requests.get(served.url + "/plain/", timeout=10).headers


def test_static_folder_of_an_application(served):
    css = requests.get(served.url + "/static/withstatic/file.css", timeout=10)
    assert css.status_code == 200 and css.text == ".mine { color: red }\n"
    assert css.headers["Content-Type"].startswith("text/css")
    assert requests.get(served.url + "/static/withstatic/sub/deep.css", timeout=10).text == ".deep {}\n"
    assert requests.get(served.url + "/static/nagare/nagare.js", timeout=10).status_code == 200
    assert requests.get(served.url + "/static/withstatic/nope.css", timeout=10).status_code == 404
    # an application without a static folder has no static mount
    assert requests.get(served.url + "/static/plain/file.css", timeout=10).status_code == 404


def test_symbolic_links_may_not_leave_the_static_folder(served):
    inside = requests.get(served.url + "/static/withstatic/inside.css", timeout=10)
    assert inside.status_code == 200 and inside.text == ".mine { color: red }\n"
    for path in ("escape.txt", "escapedir/outside.txt", "escapedir/plain.py"):
        response = requests.get(f"{served.url}/static/withstatic/{path}", timeout=10)
        assert response.status_code == 404, path
        assert "outside the static folder" not in response.text and "def app" not in response.text


def test_static_files_answer_conditional_requests(served):
    url = served.url + "/static/withstatic/file.css"
    first = requests.get(url, timeout=10)
    last_modified, etag = first.headers["Last-Modified"], first.headers.get("ETag")
    again = requests.get(url, headers={"If-Modified-Since": last_modified}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    if etag:
        assert requests.get(url, headers={"If-None-Match": etag}, timeout=10).status_code == 304
    older = requests.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}, timeout=10)
    assert older.status_code == 200 and older.text == ".mine { color: red }\n"


def test_logging_level_of_an_application(served):
    assert requests.get(served.url + "/logs/", timeout=10).status_code == 200
    assert requests.get(served.url + "/quiet/", timeout=10).status_code == 200
    log = wait_for_log(served, "info line from quiet")
    assert re.search(r"INFO nagare\.application\.logs: info line from logs", log)
    assert re.search(r"DEBUG nagare\.application\.logs: debug line from logs", log)
    assert re.search(r"INFO nagare\.application\.quiet: info line from quiet", log)
    assert "debug line from quiet" not in log  # the default level is INFO


def test_an_exception_is_a_plain_500_page_and_a_logged_traceback(served):
    response = requests.get(served.url + "/broken/?x=1", timeout=10)
    assert response.status_code == 500 and response.headers["Content-Type"].startswith("text/html")
    assert "Internal Server Error" in response.text
    for secret in ("secret detail 42", "RuntimeError", "Traceback", "views.py"):
        assert secret not in response.text
    log = wait_for_log(served, "RuntimeError: secret detail 42")
    assert re.search(rf"ERROR nagare\.application\.broken: .*GET http://127\.0\.0\.1:{served.port}/broken/\?x=1", log)
    assert "Traceback (most recent call last)" in log and "RuntimeError: secret detail 42" in log
    # the server goes on serving
    assert requests.get(served.url + "/demo/", timeout=10).status_code == 200


def test_port_already_in_use_is_one_line(served, tmp_path):
    result = nagare_admin("serve", "--port", str(served.port), "demo", cwd=tmp_path)
    line = one_line_error(result)
    assert f"cannot listen on 127.0.0.1:{served.port}" in line


# --- command line over publisher file ------------------------------------------------------------


def test_command_line_overrides_the_publisher_file(tmp_path):
    file_port = free_port()
    conf = write(tmp_path / "publisher.cfg", f"[publisher]\nhost = 127.0.0.2\nport = {file_port}\n")
    server = NagareServer(["-c", conf, "--host", "127.0.0.1", "demo"], tmp_path)
    try:
        assert requests.get(server.url + "/demo/", timeout=10).status_code == 200
        log = wait_for_log(server, "serving")
        assert f"serving /demo/ on http://127.0.0.1:{server.port}/" in log
        assert port_is_free(file_port)
    finally:
        assert server.stop() == 0


def test_the_publisher_file_gives_host_and_port(tmp_path):
    port = free_port()
    conf = write(tmp_path / "publisher.cfg", f"[publisher]\nhost = 127.0.0.1\nport = {port}\n")
    with open(tmp_path / "out.log", "wb") as out:
        env = {**os.environ, "NAGARE_SECRET_FILE": str(tmp_path / "secret")}
        command = [sys.executable, "-m", "nagare", "serve", "-c", conf, "demo"]
        process = subprocess.Popen(command, stdout=out, stderr=out, cwd=tmp_path, env=env)
        try:
            wait_for_port(port, process)
            assert requests.get(f"http://127.0.0.1:{port}/demo/", timeout=10).status_code == 200
        finally:
            process.terminate()
            assert process.wait(10) == 0


# --- signals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_server_cleanly(tmp_path, sig):
    with sigint_not_ignored():
        server = NagareServer(["demo"], tmp_path)
    assert requests.get(server.url + "/demo/", timeout=10).status_code == 200
    assert server.stop(sig) == 0
    assert port_is_free(server.port)
    log = server.log()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log
    assert log.rstrip().endswith("nagare.publisher: stopped")


# --- serve-module -----------------------------------------------------------------------------------


HELLO = '''\
from nagare import presentation


class Hello:
    def __init__(self):
        self.count = 0

    def more(self):
        self.count += 1


@presentation.render_for(Hello)
def render(self, h, comp, *args):
    h << h.p("hello ", self.count, id="hello")
    h << h.a("more", id="more").action(self.more)
    return h.root
'''


def test_serve_module_serves_a_wsgi_callable_as_it_is(tmp_path):
    plain = write(tmp_path / "plain.py", PLAIN)
    server = NagareServer([f"{plain}:app", "echo"], tmp_path, command="serve-module")
    try:
        response = requests.get(server.url + "/echo/x/y", timeout=10)
        assert response.text == "plain SCRIPT_NAME='/echo' PATH_INFO='/x/y'"
        assert "set-cookie" not in response.headers
        assert requests.get(server.url + "/other/", timeout=10).status_code == 404
    finally:
        assert server.stop() == 0


def test_serve_module_serves_a_component_factory(tmp_path):
    hello = write(tmp_path / "hello.py", HELLO)
    server = NagareServer([f"{hello}:Hello", "/hello/"], tmp_path, command="serve-module")
    try:
        page = Browser().get(server.url + "/hello/")
        assert page.status == 200 and page.text_of("#hello") == "hello 0"
        assert page.response.cookies.get("_nagare")
        assert page.click("#more").click("#more").text_of("#hello") == "hello 2"
        status, headers, _ = raw_get(server.port, "/hello")
        assert status == 301 and headers["location"].endswith("/hello/")
    finally:
        assert server.stop() == 0


def test_serve_module_bad_reference_is_one_line(tmp_path):
    line = one_line_error(nagare_admin("serve-module", "no_colon_here", "x"), "nagare-admin serve-module")
    assert "expected <module_or_file>:<factory>" in line
    line = one_line_error(nagare_admin("serve-module", f"{tmp_path}/none.py:app", "x"), "nagare-admin serve-module")
    assert f"{tmp_path}/none.py" in line and "no such file" in line
