"""Links keep their href: made absolute against the application URL and the components' urls.

A link with an action keeps the path (and #fragment) of its href; the action and session ids are
added to its query. A RESTful URL so survives clicks, reloads and bookmarks: the request cycle
finds the session in `_s`/`_c` whatever the path, and a new session hands the path's segments
to `init_for`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest

from nagare import presentation
from nagare.component import Component
from nagare.config import loader
from nagare.namespaces import xhtml5
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp

from tests.namespaces.conftest import SESSION
from tests.support.wsgi_client import WSGIClient
_ACTION = re.compile(r"_action\d+")




def parts(href: str) -> tuple[str, list[tuple[str, str]], str]:
    """(path, query pairs, fragment) of `href`."""
    split = urlsplit(href)
    return split.path, parse_qsl(split.query, keep_blank_values=True), split.fragment


def action_of(href: str) -> str:
    """The name of the action parameter in `href`."""
    (name,) = [key for key, _ in parts(href)[1] if _ACTION.fullmatch(key)]
    return name


class Recorder:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1


def test_a_relative_href_with_an_action_is_kept_and_made_absolute(h, callbacks):
    f = Recorder()
    href = h.a("page", href="page").action(f).get("href")
    path, query, fragment = parts(href)
    assert path == "/app/page" and fragment == ""
    assert dict(query)["_s"] == "abc" and dict(query)["_c"] == "00007"
    callbacks.process([(action_of(href), "")])
    assert f.calls == 1


def test_a_link_without_href_points_at_the_application(h):
    href = h.a("++").action(Recorder()).get("href")
    assert href.startswith("/app/?_action") and parts(href)[0] == "/app/"


def test_the_fragment_stays_at_the_end(h):
    href = h.a(href="page#top").action(Recorder()).get("href")
    assert parts(href)[0] == "/app/page" and href.endswith("#top") and href.count("#") == 1
    href = h.a(href="#bottom").action(Recorder()).get("href")
    assert parts(href)[0] == "/app/" and href.endswith("#bottom") and "_s=abc" in href


def test_a_query_in_the_href_is_kept_and_extended(h):
    href = h.a(href="search?q=a+b").action(Recorder()).get("href")
    path, query, _ = parts(href)
    assert path == "/app/search" and query[0] == ("q", "a b") and href.count("?") == 1
    assert {"_s", "_c"} <= dict(query).keys()


@pytest.mark.parametrize("href", ["/elsewhere/x", "https://example.org/a", "//cdn.example.org/b"])
def test_absolute_hrefs_with_an_action_keep_their_address(h, href):
    out = h.a(href=href).action(Recorder()).get("href")
    assert out.startswith(href + "?_action") and out.endswith("&_s=abc&_c=00007")


def test_links_without_an_action_are_made_absolute(h):
    assert h.a("x", href="page/2").get("href") == "/app/page/2"
    assert h.a(href="?sort=name").get("href") == "/app/?sort=name"
    for href in ("/root", "#top", "mailto:a@example.org", "https://example.org/", "javascript:void(0)"):
        assert h.a(href=href).get("href") == href
    assert h.area(href="map").get("href") == "/app/map"


def test_an_href_set_after_the_action_replaces_it(h):
    # as in Nagare 0.5: the action's URL is computed from the href the link has at that time
    assert h.a.action(Recorder())(href="page").get("href") == "/app/page"


def test_without_an_application_url_links_stay_relative(module):
    h = module.Renderer(session_params=dict(SESSION))
    assert h.a.action(Recorder()).get("href").startswith("?_action")
    assert parts(h.a(href="page").action(Recorder()).get("href"))[0] == "page"


class Folder:
    def __init__(self, name, children=()):
        self.name = name
        self.children = [Component(child, url=child.name) for child in children]


@presentation.render_for(Folder)
def render_folder(self, h, comp, model):
    with h.div(class_=self.name):
        h << h.a("self", class_="self").action(lambda: None)
        h << h.a("item", class_="item", href="42").action(lambda: None)
        h << h.a("plain", class_="plain", href="about")
        with h.form(class_="form"):
            h << h.input(type="submit").action(lambda: None)
        h << self.children
    return h.root


def test_component_urls_are_added_to_the_links_of_their_views(h):
    root = Component(Folder("root", [Folder("users", [Folder("a b")])]), url="admin")
    page = h.fragment(root.render(h))
    tree = xhtml5.Renderer().parse_htmlstring(page, fragment=True)[0]

    def link(folder, kind):
        return tree.xpath(f'//div[@class="{folder}"]/a[@class="{kind}"]')[0].get("href")

    assert parts(link("root", "self"))[0] == "/app/admin"
    assert parts(link("root", "item"))[0] == "/app/admin/42"
    assert link("root", "plain") == "/app/admin/about"
    assert parts(link("users", "self"))[0] == "/app/admin/users"
    assert parts(link("users", "item"))[0] == "/app/admin/users/42"
    assert parts(link("a b", "self"))[0] == "/app/admin/users/a%20b"  # quoted: one path segment
    assert tree.xpath('//div[@class="users"]/form')[0].get("action") == "/app/admin/users"


def test_a_component_without_url_keeps_its_parents(h):
    root = Component(Folder("root", [Folder("users")]), url="admin")
    root().children[0].url = None
    tree = h.parse_htmlstring(h.fragment(root.render(h)), fragment=True)[0]
    assert parts(tree.xpath('//div[@class="users"]/a[@class="item"]')[0].get("href"))[0] == "/app/admin/42"


def test_the_renderer_of_a_component_is_not_changed_by_its_url(h):
    Component(Folder("users"), url="users").render(h)
    assert h.url == "/app/" and parts(h.a.action(Recorder()).get("href"))[0] == "/app/"


# --- through the request cycle ----------------------------------------------------------------


class Shop:
    def __init__(self):
        self.content = Component(Item("home"))

    def show(self, name):
        self.content.becomes(Item(name), url=name)


class Item:
    def __init__(self, name):
        self.name = name
        self.clicks = 0

    def click(self):
        self.clicks += 1


@presentation.render_for(Shop)
def render_shop(self, h, comp, model):
    h << h.a("shoes", id="menu", href="shoes").action(lambda: self.show("shoes"))
    h << self.content
    return h.root


@presentation.render_for(Item)
def render_item(self, h, comp, model):
    return h.p(h.span(self.name, id="name"), h.span(self.clicks, id="clicks"), h.a("+", id="click").action(self.click))


@presentation.init_for(Shop, "len(url) == 1")
def init_shop(self, url, comp, http_method, request):
    self.show(url[0])


def make_app() -> WSGIApp:
    sessions = Sessions(loader.check(None, Sessions.SETTINGS, {}), Serializer(b"k" * 32, "t"), "t")
    return WSGIApp(Shop, name="shop", sessions=sessions)


class Client(WSGIClient):
    """Requests made the way a browser follows the links: the href is the whole path and query."""

    def __init__(self, app: WSGIApp) -> None:
        super().__init__(app, "/shop")

    def get(self, href: str):
        return self.open(href)


def href_of(response, link_id: str) -> str:
    match = re.search(rf'<a [^>]*id="{link_id}"[^>]* href="([^"]+)"|<a href="([^"]+)"[^>]* id="{link_id}"', response.text)
    assert match, response.text
    return (match.group(1) or match.group(2)).replace("&amp;", "&")


def text_of(response, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', response.text).group(1)


def test_a_restful_url_survives_clicks_reloads_and_bookmarks():
    client = Client(make_app())
    page = client.get("/shop/")
    menu = href_of(page, "menu")
    assert parts(menu)[0] == "/shop/shoes"
    page = client.get(menu)  # the action runs in the same session: the content is the shoes
    assert text_of(page, "name") == "shoes"
    click = href_of(page, "click")
    assert parts(click)[0] == "/shop/shoes"  # the content's url is added to its links
    page = client.get(click)
    assert text_of(page, "clicks") == "1" and parts(href_of(page, "click"))[0] == "/shop/shoes"
    # a bookmark: the path without the session starts a new session on the same content
    bookmark = Client(client.app).get(parts(click)[0])
    assert text_of(bookmark, "name") == "shoes" and text_of(bookmark, "clicks") == "0"


def test_an_expired_session_restarts_on_the_path_of_the_link():
    client = Client(make_app())
    page = client.get("/shop/shoes")
    assert text_of(page, "name") == "shoes"
    stale = href_of(page, "click").replace(dict(parts(href_of(page, "click"))[1])["_s"], "0" * 32)
    response = client.get(stale)
    assert response.status_int == 301 and response.location == "http://localhost/shop/shoes"
    assert text_of(client.get("/shop/shoes"), "name") == "shoes"
