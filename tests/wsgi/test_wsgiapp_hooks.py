"""`wsgi.WSGIApp` as Nagare 0.5 applications use it: subclassed, configured by the loader, and
its per-request hooks; WebOb HTTP exceptions as answers; the security and logging seams."""

from __future__ import annotations

import json
import logging
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from webob import Request, Response
from webob.exc import HTTPFound, HTTPNotFound, HTTPSeeOther

from nagare import log, presentation, wsgi
from nagare.config import application, loader, publisher
from nagare.errors import ConfigError
from nagare import security
from nagare.security import common as security_common
from nagare.security import dummy_manager
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from nagare.wsgi import app as wsgi_app
from nagare.wsgi.loader import load
from tests.support.wsgi_client import WSGIClient


class Page:
    def __init__(self) -> None:
        self.clicks = 0
        self.raise_in_view: Exception | None = None
        self.content_type = ""

    def click(self) -> None:
        self.clicks += 1

    def click_then_redirect(self) -> None:
        self.clicks += 1
        raise HTTPSeeOther(location="/elsewhere")

    def click_then_fail(self) -> None:
        self.clicks += 1
        raise HTTPNotFound()

    def fail_next_view(self) -> None:
        self.raise_in_view = HTTPFound(location="/from-the-view")

    def plain_text(self) -> None:
        self.content_type = "text/plain"

    def log_something(self) -> None:
        log.info("clicked %d", self.clicks)

    def admin_only(self) -> None:
        self.clicks += 100


@presentation.render_for(Page)
def render_page(self: Page, h: Any, comp: Any, *args: Any) -> Any:
    if self.raise_in_view is not None:
        error, self.raise_in_view = self.raise_in_view, None
        raise error
    if self.content_type:
        h.response.content_type = self.content_type
    h << h.span(self.clicks, id="clicks")
    for name in ("click", "click_then_redirect", "click_then_fail", "fail_next_view", "plain_text", "log_something"):
        h << h.a(name, id=name).action(getattr(self, name))
    h << h.a("admin", id="admin").action(self.admin_only, permissions="admin")
    h << h.a("public", id="public").action(self.click, permissions="public")
    h << h.a("public", id="security-public").action(self.click, permissions=security_common.public)
    with h.form:
        h << h.input(type="submit", value="save", id="save").action(self.click)
    return h.root


def sessions(**settings: str) -> Sessions:
    return Sessions(loader.check(None, Sessions.SETTINGS, settings), Serializer(b"k" * 32, "t"), "t")


class Recorder(wsgi.WSGIApp):
    """Records the hooks called, with what they got."""

    def __init__(self, root_factory: Any, **kw: Any) -> None:
        super().__init__(root_factory, name="t", sessions=sessions(), **kw)
        self.calls: list[tuple[Any, ...]] = []

    def create_root(self) -> Any:
        self.calls.append(("create_root",))
        return super().create_root()

    def start_request(self, root: Any, request: Request, response: Response) -> None:
        self.calls.append(("start_request", type(root()).__name__, request.path_info, isinstance(response, Response)))

    def create_renderer(self, async_: bool, session: Any, request: Request, response: Response, callbacks: Any) -> Any:
        self.calls.append(("create_renderer", async_, session.session_id))
        return super().create_renderer(async_, session, request, response, callbacks)

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


class Client(WSGIClient):
    def get(self, query: str = "", path: str = "/", post: dict[str, str] | None = None, method: str | None = None) -> Response:
        return self.open("/t" + path + query, post=post, method=method)

    def click(self, page: Response, link_id: str, *, xhr: bool = False) -> Response:
        return self.get(self.href(page, link_id) + ("&_a=1" if xhr else ""))

    @staticmethod
    def href(page: Response, link_id: str) -> str:
        match = re.search(rf'<a [^>]*id="{link_id}"[^>]* href="([^"]+)"', page.text)
        assert match, page.text
        return "?" + match.group(1).replace("&amp;", "&").split("?", 1)[1]


def ids(text: str) -> tuple[str, int]:
    session_id, state_id = re.search(r"_s=([0-9a-f]{32})&(?:amp;)?_c=(\d+)", text).groups()
    return session_id, int(state_id)


def clicks(page: Response) -> int:
    return int(re.search(r'<span id="clicks">(\d+)</span>', page.text).group(1))


def post_save(client: Client, page: Response) -> Response:
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page.text))
    save = re.search(r'<input [^>]*name="(_action[^"]+)"[^>]*id="save"|<input [^>]*id="save"[^>]*name="(_action[^"]+)"', page.text)
    return client.get(post={**fields, (save.group(1) or save.group(2)): "save"})


# --- 0.5.1's class: WSGIApp(root_factory), configured by the loader ---------------------------

APP = '''
from nagare import presentation, wsgi

CALLS = []


class Root:
    pass


@presentation.render_for(Root)
def render(self, h, comp, *args):
    return h.p(comp().greeting, id="greeting")


class App(wsgi.WSGIApp):
    def set_config(self, config_filename, conf, error):
        super(App, self).set_config(config_filename, conf, error)
        CALLS.append(("set_config", config_filename, dict(conf["application"]), conf["myapp"]["greeting"]))
        self.greeting = conf["myapp"]["greeting"]
        if conf["myapp"].get("bad"):
            error("[myapp] bad: not good")

    def set_static_path(self, path):
        CALLS.append(("set_static_path", path))
        super(App, self).set_static_path(path)

    def set_static_url(self, url):
        CALLS.append(("set_static_url", url))
        super(App, self).set_static_url(url)

    def set_data_path(self, path):
        CALLS.append(("set_data_path", path))

    def set_publisher(self, publisher):
        CALLS.append(("set_publisher", publisher))

    def set_sessions_manager(self, manager):
        CALLS.append(("set_sessions_manager", type(manager).__name__))
        super(App, self).set_sessions_manager(manager)

    def set_databases(self, databases):
        CALLS.append(("set_databases", databases))

    def set_project(self, name):
        CALLS.append(("set_project", name))

    def start(self):
        CALLS.append(("start",))
        if self.greeting == "fail":
            raise RuntimeError("cannot reach\\nthe database")

    def start_request(self, root, request, response):
        root().greeting = self.greeting


app = App(Root)
'''


@pytest.fixture
def secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAGARE_SECRET_FILE", str(tmp_path / "secret"))


def app_file(tmp_path: Path, section: str = "greeting = hello $name from $here") -> str:
    (tmp_path / "app05.py").write_text(APP)
    config = tmp_path / "app05.cfg"
    config.write_text(f"[application]\nname = app05\npath = file {tmp_path}/app05.py:app\n\n[myapp]\n{textwrap.dedent(section)}\n")
    return str(config)


def test_the_loader_configures_a_wsgiapp_instance_in_0_5_1_order_then_starts_it(tmp_path, secret):
    filename = app_file(tmp_path)
    server = object()
    loaded = load(application.read(filename), publisher.read(None), server)
    assert loaded.kind == "nagare" and loaded.app is loaded.wsgi and type(loaded.app).__name__ == "App"
    calls = sys.modules[type(loaded.app).__module__].CALLS
    assert [call[0] for call in calls] == [
        "set_config", "set_static_path", "set_static_url", "set_data_path", "set_publisher",
        "set_sessions_manager", "set_databases", "set_project", "start",
    ]
    _, config_filename, section, greeting = calls[0]
    assert config_filename == filename and greeting == f"hello app05 from {tmp_path}"  # a custom section, interpolated
    assert section["debug"] is False and section["always_html"] is True and section["name"] == "app05"  # checked values
    assert dict(calls[1:5]) == {
        "set_static_path": f"{tmp_path.parent}/static",
        "set_static_url": "/static/app05/",
        "set_data_path": f"{tmp_path.parent}/data",
        "set_publisher": server,
    }
    assert calls[5:8] == [("set_sessions_manager", "Sessions"), ("set_databases", ()), ("set_project", None)]
    assert loaded.app.name == "app05" and loaded.app.sessions is loaded.sessions


def test_a_configured_wsgiapp_serves_with_what_its_hooks_read(tmp_path, secret):
    loaded = load(application.read(app_file(tmp_path)), publisher.read(None))
    request = Request.blank("/", base_url="http://localhost")
    request.script_name = "/app05"
    response = request.get_response(loaded.wsgi)
    assert response.status_int == 200
    assert f'<p id="greeting">hello app05 from {tmp_path}</p>' in response.text


def test_the_error_function_of_set_config_stops_with_one_line_naming_the_file(tmp_path, secret):
    filename = app_file(tmp_path, "greeting = x\nbad = yes")
    with pytest.raises(ConfigError) as info:
        load(application.read(filename), publisher.read(None))
    assert str(info.value) == f"{filename}: [myapp] bad: not good"


def test_an_exception_in_start_stops_with_one_line(tmp_path, secret):
    filename = app_file(tmp_path, "greeting = fail")
    with pytest.raises(ConfigError) as info:
        load(application.read(filename), publisher.read(None))
    assert str(info.value) == (
        f"{filename}: [application] path = 'file {tmp_path}/app05.py:app': "
        "start() failed: RuntimeError: cannot reach the database"
    )


def test_a_root_factory_is_wrapped_as_create_wsgiapp_does():
    made = wsgi.create_WSGIApp(Page)
    assert isinstance(made, wsgi.WSGIApp) and made.root_factory is Page
    assert made.create_root()().__class__ is Page  # in a Component
    assert wsgi.create_WSGIApp(made) is made


class Kind:
    renderers: list[type] = []
    static_paths: list[str] = []


@presentation.render_for(Kind)
def render_kind(self: Kind, h: Any, comp: Any, *args: Any) -> Any:
    self.renderers.append(type(h))
    self.static_paths.append(h.static_path)
    return h.p("kind")


def test_class_attributes_of_a_subclass_are_used():
    from nagare.namespaces import xhtml

    class Old(wsgi.WSGIApp):
        renderer_factory = xhtml.Renderer

    assert Client(Old(Kind, name="t", sessions=sessions())).get().status_int == 200
    assert Kind.renderers == [xhtml.Renderer] and wsgi.WSGIApp.renderer_factory is not xhtml.Renderer


def test_the_renderer_gets_the_static_path():
    app = wsgi.WSGIApp(Kind, name="t", sessions=sessions())
    app.set_static_path("/srv/t/static")
    assert Client(app).get().status_int == 200 and Kind.static_paths[-1] == "/srv/t/static"


# --- per request -------------------------------------------------------------------------------


def test_create_root_start_request_and_create_renderer_are_called_per_request():
    app = Recorder(Page)
    client = Client(app)
    page = client.get()
    session_id, _ = ids(page.text)
    assert app.calls == [("create_root",), ("start_request", "Page", "/", True), ("create_renderer", False, session_id)]
    app.calls.clear()
    client.click(page, "click")
    assert app.calls == [("start_request", "Page", "/", True), ("create_renderer", False, session_id)]


def test_start_request_comes_before_init_for():
    class Restful:
        seen: list[str] = []

    @presentation.init_for(Restful)
    def init(self: Restful, url: Any, comp: Any, http_method: str, request: Request) -> None:
        self.seen.append("init")

    @presentation.render_for(Restful)
    def render(self: Restful, h: Any, comp: Any, *args: Any) -> Any:
        return h.p("restful")

    class App(wsgi.WSGIApp):
        def start_request(self, root: Any, request: Request, response: Response) -> None:
            root().seen.append("start_request")

    app = App(Restful, name="t", sessions=sessions())
    assert Client(app).get(path="/some/where").status_int == 200
    assert Restful.seen == ["start_request", "init"]


def test_an_xhr_update_asks_for_an_async_renderer():
    from nagare.demo.app import Demo

    app = Recorder(Demo)
    client = Client(app)
    page = client.get(path="/async")
    app.calls.clear()
    answer = client.click(page, "increase", xhr=True)
    assert json.loads(answer.body)["updates"]
    assert ("create_renderer", True, ids(page.text)[0]) in app.calls


# --- the error hooks ---------------------------------------------------------------------------


class Hooks(wsgi.WSGIApp):
    """Every hook answers with its own page, naming what it got."""

    def __init__(self, root_factory: Any, **kw: Any) -> None:
        super().__init__(root_factory, name="t", sessions=sessions(**kw))
        self.got: list[tuple[Any, ...]] = []

    def answer(self, name: str, *args: Any) -> Response:
        self.got.append((name, *args))
        return Response(f"{name} hook", status=299)

    def on_expired_session(self, request: Request, response: Response) -> Response:
        return self.answer("expired", request.path_info, isinstance(response, Response))

    def on_invalid_session(self, request: Request, response: Response) -> Response:
        return self.answer("invalid")

    def on_exception(self, request: Request, response: Response) -> Response:
        import sys

        return self.answer("exception", type(sys.exc_info()[1]).__name__)

    def on_bad_http_method(self, request: Request, response: Response) -> Response:
        return self.answer("method", request.method)


def test_on_expired_session_answers_an_unknown_session():
    app = Hooks(Page)
    response = Client(app).get("?_s=" + "1" * 32 + "&_c=00003", path="/x")
    assert (response.status_int, response.text) == (299, "expired hook") and app.got == [("expired", "/x", True)]


def test_on_invalid_session_answers_a_wrong_secure_cookie():
    app = Hooks(Page)
    client = Client(app)
    page = client.get()
    client.cookie = "_nagare=not-the-right-one"
    response = client.click(page, "click")
    assert (response.status_int, response.text) == (299, "invalid hook")


def test_on_exception_answers_an_error_with_the_exception_being_handled():
    class Broken(Page):
        def click(self) -> None:
            raise ZeroDivisionError

    app = Hooks(Broken)
    client = Client(app)
    response = client.click(client.get(), "click")
    assert (response.status_int, response.text) == (299, "exception hook") and app.got == [("exception", "ZeroDivisionError")]


def test_on_bad_http_method_answers_other_methods_and_is_405_by_default():
    app = Hooks(Page)
    assert Client(app).get(method="PUT").text == "method hook" and app.got == [("method", "PUT")]
    response = Client(wsgi.WSGIApp(Page, name="t", sessions=sessions())).get(method="DELETE")
    assert response.status_int == 405 and response.headers["Allow"] == "GET, HEAD, POST"


def test_on_callback_lookuperror_gets_unknown_action_ids_and_skips_them_by_default():
    got: list[bool] = []

    class App(wsgi.WSGIApp):
        def on_callback_lookuperror(self, request: Request, response: Response, async_: bool) -> None:
            got.append(async_)

    app = App(Page, name="t", sessions=sessions())
    client = Client(app)
    page = client.get()
    session_id, state_id = ids(page.text)
    query = f"?_s={session_id}&_c={state_id:05d}&_action499999="
    assert clicks(client.get(query)) == 0 and got == [False]
    client.get(query + "&_a=1")
    assert got == [False, True]
    client.click(page, "click")
    assert got == [False, True]  # a known id: no call


def test_on_after_post_gets_the_ids_of_the_next_state_and_may_redirect():
    got: list[list[str]] = []

    class App(wsgi.WSGIApp):
        def on_after_post(self, request: Request, response: Response, ids: list[str]) -> Response:
            got.append(ids)
            return HTTPSeeOther(location="/t/?" + "&".join(ids))

    app = App(Page, name="t", sessions=sessions())
    client = Client(app)
    page = client.get()
    session_id, state_id = ids(page.text)
    response = post_save(client, page)
    assert got == [[f"_s={session_id}", f"_c={state_id + 1:05d}"]]
    assert response.status_int == 303 and ids(response.location) == (session_id, state_id + 1)
    assert clicks(client.get(response.location.split("/t/", 1)[1])) == 1


def test_on_after_post_renders_the_page_by_default():
    client = Client(wsgi.WSGIApp(Page, name="t", sessions=sessions()))
    response = post_save(client, client.get())
    assert response.status_int == 200 and clicks(response) == 1


def test_on_back_gets_the_rendering_of_an_older_state_only():
    got: list[Any] = []

    class App(wsgi.WSGIApp):
        def on_back(self, request: Request, response: Response, h: Any, output: Any) -> Any:
            got.append(output)
            return h.p("you went back", id="back")

    client = Client(App(Page, name="t", sessions=sessions()))
    first = client.get()
    second = client.click(first, "click")
    assert got == [] and 'id="back"' not in second.text
    again = client.click(first, "click")  # an action of the first page: the first state, not the last
    assert len(got) == 1 and '<p id="back">you went back</p>' in again.text


def test_on_back_is_not_called_without_a_states_history():
    got: list[Any] = []

    class App(wsgi.WSGIApp):
        def on_back(self, request: Request, response: Response, h: Any, output: Any) -> Any:
            got.append(output)
            return output

    client = Client(App(Page, name="t", sessions=sessions(states_history="off")))
    page = client.get()
    client.click(client.click(page, "click"), "click")
    assert got == []


# --- WebOb HTTP exceptions are answers --------------------------------------------------------


def test_a_redirection_raised_by_an_action_keeps_what_the_action_changed():
    client = Client(wsgi.WSGIApp(Page, name="t", sessions=sessions()))
    page = client.get()
    response = client.click(page, "click_then_redirect")
    assert response.status_int == 303 and response.location == "http://localhost/elsewhere"
    session_id, state_id = ids(page.text)
    assert clicks(client.get(f"?_s={session_id}&_c={state_id:05d}")) == 1  # stored in place


def test_an_http_error_raised_by_an_action_is_the_answer_and_nothing_is_stored():
    client = Client(wsgi.WSGIApp(Page, name="t", sessions=sessions()))
    page = client.get()
    response = client.click(page, "click_then_fail")
    assert response.status_int == 404 and "404 Not Found" in response.text
    session_id, state_id = ids(page.text)
    assert clicks(client.get(f"?_s={session_id}&_c={state_id:05d}")) == 0


def test_an_http_exception_raised_by_a_view_is_the_answer_and_the_new_state_is_not_stored():
    app = wsgi.WSGIApp(Page, name="t", sessions=sessions())
    client = Client(app)
    page = client.get()
    session_id, state_id = ids(page.text)
    response = client.click(page, "fail_next_view")
    assert response.status_int == 302 and response.location == "http://localhost/from-the-view"
    assert list(app.sessions._sessions[session_id].states) == [state_id]


def test_an_http_exception_raised_by_init_for_keeps_no_session():
    class Gone:
        pass

    @presentation.init_for(Gone)
    def init(self: Gone, url: Any, comp: Any, http_method: str, request: Request) -> None:
        raise presentation.HTTPNotFound()

    app = wsgi.WSGIApp(Gone, name="t", sessions=sessions())
    response = Client(app).get(path="/nothing")
    assert response.status_int == 404 and "Set-Cookie" not in response.headers and len(app.sessions) == 0


# --- the response of a view --------------------------------------------------------------------


def test_a_view_setting_the_content_type_keeps_it():
    client = Client(wsgi.WSGIApp(Page, name="t", sessions=sessions()))
    page = client.get()
    assert page.content_type == "text/html" and page.charset.lower() == "utf-8"
    assert client.click(page, "plain_text").content_type == "text/plain"


# --- the seams: security, nagare.log -----------------------------------------------------------


class Manager:
    """A security manager that knows one user, from a header, and records what it is told."""

    def __init__(self) -> None:
        self.ended: list[tuple[int, str]] = []

    def create_user(self, request: Request, response: Response) -> str | None:
        return request.headers.get("X-User")

    def end_rendering(self, request: Request, response: Response, session: Any) -> None:
        self.ended.append((response.status_int, session.session_id))

    def has_permission(self, user: Any, perm: Any, subject: Any) -> bool:
        return perm == "public" or (user == "root" and perm == "admin")

    def denies(self, detail: Any = None) -> Any:
        from webob.exc import HTTPForbidden

        raise HTTPForbidden()


def test_the_security_manager_authenticates_each_request_and_ends_each_rendering():
    users: list[Any] = []

    class App(wsgi.WSGIApp):
        security = Manager()

        def start_request(self, root: Any, request: Request, response: Response) -> None:
            users.append(security.get_user())

    app = App(Page, name="t", sessions=sessions())
    client = Client(app)
    page = client.get()
    session_id, _ = ids(page.text)
    request = Request.blank("/t/" + client.href(page, "click"), base_url="http://localhost", headers={"X-User": "root", "Cookie": client.cookie})
    request.script_name, request.path_info = "/t", "/"
    assert request.get_response(app).status_int == 200
    assert users == [None, "root"] and security.get_user() is None  # per request, cleared after
    assert app.security.ended == [(200, session_id), (200, session_id)]
    client.click(page, "admin")  # refused: the 403 goes through the manager too (its cookie)
    client.click(page, "click_then_redirect")
    assert app.security.ended[2:] == [(403, session_id), (303, session_id)]


def test_an_action_needing_a_permission_is_refused_to_the_anonymous_user_by_default():
    app = wsgi.WSGIApp(Page, name="t", sessions=sessions())
    assert isinstance(app.security, dummy_manager.Manager)
    client = Client(app)
    page = client.get()
    assert client.click(page, "admin").status_int == 403
    assert client.click(page, "public").status_int == 403  # a permission named "public" is not `public`
    assert clicks(client.click(page, "security-public")) == 1  # nagare.security's `public`
    session_id, state_id = ids(page.text)
    assert clicks(client.get(f"?_s={session_id}&_c={state_id:05d}")) == 0  # the refused action stored nothing


def test_a_request_the_manager_cannot_read_is_a_400_not_a_500(caplog):
    class Reading(Manager):
        def create_user(self, request: Request, response: Response) -> str | None:
            return request.params.get("__ac_name")  # a form authentication reads the fields

    class App(wsgi.WSGIApp):
        security = Reading()

    response = Client(App(Page, name="t", sessions=sessions())).get("?%ff=1")
    assert response.status_int == 400 and "Traceback" not in caplog.text


def test_a_permission_the_manager_grants_lets_the_action_run():
    class App(wsgi.WSGIApp):
        security = Manager()

    client = Client(App(Page, name="t", sessions=sessions()))
    page = client.get()
    request = Request.blank("/t/" + client.href(page, "admin"), base_url="http://localhost", headers={"X-User": "root", "Cookie": client.cookie})
    request.script_name, request.path_info = "/t", "/"
    assert clicks(request.get_response(client.app)) == 100


def test_nagare_log_writes_to_the_application_serving_the_request(caplog):
    client = Client(wsgi.WSGIApp(Page, name="t", sessions=sessions()))
    page = client.get()
    assert wsgi_app.current_app.get() is None
    with caplog.at_level(logging.INFO, logger="nagare.application.t"):
        client.click(page, "log_something")
    assert [(r.name, r.getMessage()) for r in caplog.records if r.name.startswith("nagare.application")] == [("nagare.application.t", "clicked 0")]
    assert log.get_logger().name == "nagare.application"  # outside a request
