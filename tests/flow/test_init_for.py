"""`Continuation(comp.call, ...)` in an `init_for` function, as 0.5 applications write it, through WSGIApp."""

from __future__ import annotations

import re

from nagare import presentation, util
from nagare.continuation import Continuation
from tests.wsgi.test_app import Client, make_app


class Home:
    def __init__(self) -> None:
        self.welcomed = False


@presentation.render_for(Home)
def render_home(self: Home, h, comp, *args):
    return h.p("home, welcomed" if self.welcomed else "home", id="home")


@presentation.init_for(Home, "len(url) == 1 and url[0] == 'welcome'")
def init_welcome(self: Home, url, comp, http_method, request):
    Continuation(welcome, self, comp)


def welcome(home: Home, comp) -> None:
    comp.call(util.Confirm("Welcome!"))
    home.welcomed = True  # runs on the request that answers


def test_a_call_made_in_init_for_shows_its_component_and_resumes_when_it_answers():
    client = Client(make_app(Home))
    page = client.get("", path="/welcome")
    assert "<p>Welcome!</p>" in page.text
    fields = dict(re.findall(r'<input type="hidden" name="(_[sc])" value="([^"]*)"', page.text))
    ok = re.search(r'<input type="submit" value="ok" name="([^"]+)"', page.text).group(1)
    page = client.open("/t/", post={**fields, ok: "ok"})
    if page.status_int in (302, 303):
        page = client.open(page.location.replace("http://localhost", ""))
    assert 'id="home">home, welcomed<' in page.text
