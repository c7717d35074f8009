"""nagare.presentation: views, conditions and RESTful initialisers as Nagare 0.5 applications use them."""

import re

import pytest
import webob.exc
from webob import Request

from nagare import component, presentation
from nagare.config import loader
from nagare.sessions.memory import Sessions
from nagare.sessions.serializer import Serializer
from nagare.wsgi.app import WSGIApp

# A module global that init_for conditions name, as 0.5 applications' conditions do.
KNOWN_PAGES = ("home", "about")


class Site:
    def __init__(self):
        self.page = None


@presentation.init_for(Site, "len(url) == 1 and url[0] in KNOWN_PAGES and isinstance(self, Site)")
def init_known(self, url, comp, http_method, request):
    self.page = url[0]


@presentation.init_for(Site, "len(url) == 2 and all(segment.isdigit() for segment in url)")
def init_numbers(self, url, comp, http_method, request):
    # a generator expression over `url`: the condition's names are real variables, not a dict
    self.page = sum(int(segment) for segment in url)


@presentation.init_for(Site, "len(url) == 1  # a comment ends the condition")
def init_other(self, url, comp, http_method, request):
    raise presentation.HTTPNotFound()


def test_http_not_found_is_webob_s():
    assert presentation.HTTPNotFound is webob.exc.HTTPNotFound


def test_init_for_condition_sees_the_module_that_decorates():
    site = Site()
    comp = component.Component(site)
    comp.init(("about",), "GET", None)
    assert site.page == "about"
    comp.init(("4", "38"), "GET", None)
    assert site.page == 42
    with pytest.raises(presentation.HTTPNotFound):
        comp.init(("elsewhere",), "GET", None)
    with pytest.raises(presentation.NotFound):
        comp.init(("a", "b", "c"), "GET", None)


def test_init_for_condition_with_a_syntax_error_fails_when_decorating():
    with pytest.raises(SyntaxError):
        presentation.init_for(Site, "len(url) ==")


def test_no_view_raises_model_error_still_a_lookup_error():
    class Viewless:
        pass

    with pytest.raises(presentation.ModelError, match="no view 'nope' registered for .*Viewless"):
        presentation.render(Viewless(), None, None, "nope")
    assert issubclass(presentation.ModelError, LookupError)
    with pytest.raises(LookupError, match="no default view"):  # what code written for us catches
        presentation.render(Viewless(), None)


class Shape:
    def __init__(self, sides):
        self.sides = sides


@presentation.render_for(Shape)
def render_shape(self, h, comp, model):
    return f"{self.sides} sides"


@presentation.render_for_cond("isinstance(self, Shape) and self.sides == 3 and model is None")
def render_triangle(self, h, comp, model):
    return "triangle"


@presentation.render_for_cond(lambda self, h, comp, model: isinstance(self, Shape) and model == "name")
def render_shape_name(self, h, comp, model):
    return f"shape with {self.sides} sides"


def test_render_for_cond_is_tried_before_the_class_views():
    assert presentation.render(Shape(3), None) == "triangle"
    assert presentation.render(Shape(4), None) == "4 sides"
    assert presentation.render(Shape(3), None, None, "name") == "shape with 3 sides"
    with pytest.raises(presentation.ModelError):
        presentation.render(Shape(4), None, None, "other")


class Marked:
    pass


@presentation.render_for_cond("isinstance(self, Marked) and h is renderer and h == 'marking renderer'")
def render_marked(self, h, comp, model):
    return f"marked by {h}"


def test_render_for_cond_names_the_renderer_h_or_renderer():
    assert presentation.render(Marked(), "marking renderer") == "marked by marking renderer"
    with pytest.raises(presentation.ModelError):
        presentation.render(Marked(), "another renderer")


# --- WebOb's HTTP exceptions become the response, wherever the application raises them -------


class Shop:
    def __init__(self):
        self.raise_in_view = None

    def forbidden(self):
        raise webob.exc.HTTPForbidden()

    def go_away(self):
        self.raise_in_view = webob.exc.HTTPFound(location="/elsewhere")


@presentation.render_for(Shop)
def render_shop(self, h, comp, model):
    if self.raise_in_view is not None:
        raise self.raise_in_view
    h << h.a("forbidden", id="forbidden").action(self.forbidden)
    h << h.a("away", id="away").action(self.go_away)
    return h.root


@presentation.init_for(Shop, "url == ('missing',)")
def init_missing(self, url, comp, http_method, request):
    raise presentation.HTTPNotFound()


def make_client():
    sessions = Sessions(loader.check(None, Sessions.SETTINGS, {}), Serializer(b"k" * 32, "t"), "t")
    app = WSGIApp(Shop, name="t", sessions=sessions)
    cookie = None

    def get(path="/", query=""):
        nonlocal cookie
        request = Request.blank("/t" + path + query, base_url="http://localhost")
        request.script_name, request.path_info = "/t", path
        if cookie:
            request.headers["Cookie"] = cookie
        response = request.get_response(app)
        if "Set-Cookie" in response.headers:
            cookie = response.headers["Set-Cookie"].split(";")[0]
        return response

    return get


def href(response, link_id):
    return re.search(rf'id="{link_id}"[^>]* href="([^"]+)"', response.text).group(1).replace("&amp;", "&")


def test_http_not_found_raised_by_init_for_is_a_404():
    get = make_client()
    assert get("/missing").status_int == 404
    assert get("/").status_int == 200


def test_http_exception_raised_by_an_action_is_the_response():
    get = make_client()
    page = get()
    assert get(query=href(page, "forbidden")).status_int == 403


def test_http_exception_raised_by_a_view_is_the_response():
    get = make_client()
    page = get()
    response = get(query=href(page, "away"))
    assert response.status_int == 302 and response.location.endswith("/elsewhere")
