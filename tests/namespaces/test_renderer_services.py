"""What Nagare 0.5 views use of the renderer besides tags and actions.

Unknown names fail instead of becoming tags; the services of the renderer; the constructor and
the asynchronous/synchronous renderers with arguments; `data_foo=`, `.error(msg)`, labels,
processing instructions, namespaces and the obsolete tags of HTML5.
"""

from __future__ import annotations

import re

import lxml.html
import pytest
import webob
from lxml import etree

from nagare import ajax, presentation
from nagare.component import Component
from nagare.namespaces import xhtml, xhtml5, xml

from tests.namespaces.conftest import SESSION




def html(h, output) -> str:
    """`output` serialised, void elements written the HTML way whatever the renderer."""
    return re.sub(r"<(input|br)([^>]*?)/>", r"<\1\2>", h.fragment(output))


# --- only the declared tags -------------------------------------------------------------------

SERVICES = (
    "generate_id", "id", "session", "static_path", "add_sessionid_in_url", "add_sessionid_in_form",
    "register_callback", "decorate_error", "namespaces", "default_namespace",
)  # fmt: skip


def test_the_services_of_0_5_are_not_tags(h):
    for name in SERVICES:
        assert not isinstance(getattr(h, name), etree._Element), name


def test_an_unknown_name_is_an_attribute_error_naming_it(h):
    with pytest.raises(AttributeError, match=r"has no tag or attribute 'mispelled_div' \(h.makeelement"):
        h.mispelled_div
    with pytest.raises(AttributeError, match="cdata"):
        h.cdata
    assert not hasattr(h, "fragment_of_nothing")
    with pytest.raises(AttributeError, match="the head renderer has no 'div'"):
        h.head.div
    assert h.head.head().tag == "head" and h.head.title("t").tag == "title"
    assert h.makeelement("my-widget").tag == "my-widget"  # any tag, asked for explicitly


def test_the_xml_renderer_makes_any_tag():
    h = xml.Renderer()
    assert h.fragment(h.catalog(h.any_name_at_all("x"))) == "<catalog><any_name_at_all>x</any_name_at_all></catalog>"


def test_html4_tags_of_the_xhtml_renderer():
    h = xhtml.Renderer()
    for name in ("center", "font", "big", "tt", "strike", "applet", "dir", "menu", "basefont", "isindex"):
        assert getattr(h, name).tag == name


@pytest.mark.parametrize("name", ["center", "font", "big", "tt", "strike", "acronym", "frame", "frameset", "applet"])
def test_obsolete_tags_are_not_in_the_html5_renderer(name):
    h = xhtml5.Renderer()
    with pytest.raises(AttributeError, match=f"<{name}> is obsolete in HTML5"):
        getattr(h, name)
    with pytest.raises(AttributeError):
        getattr(h.new().AsyncRenderer(), name)


def test_html5_keeps_what_html5_has():
    h = xhtml5.Renderer()
    for name in ("s", "u", "small", "menu", "section", "dialog", "template", "iframe", "noscript"):
        assert getattr(h, name).tag == name


# --- services -----------------------------------------------------------------------------------


def test_generate_id_is_unique_across_the_page_and_its_updates(h):
    ids = {h.generate_id() for _ in range(50)} | {h.new().new().generate_id("item") for _ in range(50)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"(id|item)[\w-]+", i) for i in ids)
    assert h.generate_id("row").startswith("row")
    other_page = type(h)()  # another rendering, an XHR update say
    assert not ids & ({other_page.generate_id() for _ in range(50)} | {other_page.generate_id("item") for _ in range(50)})


def test_id_is_one_per_renderer(h):
    child = h.new()
    assert h.id == h.id and child.id == child.id and h.id != child.id
    assert isinstance(h.id, str) and h.id[0].isalpha()


def test_session_and_static_path(module):
    h = module.Renderer(None, "the session", None, None, "/static/app/", "/srv/app/static", "/app/")
    child = h.new()
    assert (child.session, child.static_path, child.static_url, child.url) == (
        "the session", "/srv/app/static", "/static/app/", "/app/"
    )
    assert module.Renderer().session is None and module.Renderer().static_path == ""


def test_the_constructor_takes_the_arguments_of_0_5_in_their_order(module):
    request, response = webob.Request.blank("/app/"), webob.Response()
    h = module.Renderer(None, None, request, response, "/static/app/", "", "/app/")
    assert (h.request, h.response, h.static_url, h.url) == (request, response, "/static/app/", "/app/")
    assert h.img(src="logo.png").get("src") == "/static/app/logo.png"
    assert h.a(href="page").get("href") == "/app/page"
    child = module.Renderer(h)
    assert child.parent is h and child.callbacks is h.callbacks and child.head is h.head


def test_add_sessionid_in_url(h):
    assert h.add_sessionid_in_url() == "?_s=abc&_c=00007"
    assert h.add_sessionid_in_url("/app/page") == "/app/page?_s=abc&_c=00007"
    assert h.add_sessionid_in_url("/p?x=1", ("y=2", "_action400001")) == "/p?x=1&y=2&_action400001&_s=abc&_c=00007"
    assert h.add_sessionid_in_url("/p#end", sep="&amp;") == "/p?_s=abc&amp;_c=00007#end"
    assert type(h)().add_sessionid_in_url("/p") == "/p"  # no session: nothing to add


def test_add_sessionid_in_form(h):
    form = h.parse_htmlstring('<form action="/x"><input name="q"></form>', fragment=True)[0]
    assert h.add_sessionid_in_form(form) is form
    hidden = {i.get("name"): i.get("value") for i in form.iter("input") if i.get("type") == "hidden"}
    assert hidden == SESSION


def test_register_callback(h, callbacks):
    got = []
    name = h.register_callback(4, lambda: got.append("called"), False)
    assert re.fullmatch(r"_action4\d+", name)
    callbacks.process([(name, "")])
    name = h.register_callback(1, lambda request, response, value: got.append((request, value)), True)
    callbacks.process([(name, "v")], "REQ", "RESP")
    assert got == ["called", ("REQ", "v")]


def test_register_callback_with_a_render_is_an_update(h, callbacks):
    got = []
    name = h.register_callback(4, lambda: got.append("called"), False, render=lambda r: r.p("updated"))
    (rendering,) = callbacks.process([(name, "")])
    assert got == ["called"] and isinstance(rendering, ajax.Rendering)
    assert h.fragment(rendering.render(h)) == "<p>updated</p>"


def test_decorate_error(h):
    field = h.input(value="x")
    assert h.decorate_error(field, None) is field
    decorated = h.decorate_error(field, "Wrong")
    assert html(h, decorated) == (
        '<div class="nagare-error-field"><div class="nagare-error-input"><input value="x"></div>'
        '<div class="nagare-error-message">Wrong</div></div>'
    )


# --- AsyncRenderer, SyncRenderer ----------------------------------------------------------------


def test_async_and_sync_renderers_without_arguments_are_children(h):
    a = h.AsyncRenderer()
    assert a.parent is h and a.is_async and a.callbacks is h.callbacks
    s = a.SyncRenderer()
    assert s.parent is a and not s.is_async and not s.new().is_async


def test_with_arguments_they_are_new_root_renderers(module, h):
    a = h.AsyncRenderer(static_url="/static/other/", session_params={"_s": "x", "_c": "1"})
    assert isinstance(a, module.AsyncRenderer) and a.parent is None and a.is_async
    assert a.callbacks is not h.callbacks and a.head is not h.head and a.static_url == "/static/other/"
    assert a.a.action(lambda: None).get("data-nagare-async") is not None
    assert "_s=x" in a.a.action(lambda: None).get("href")
    s = h.SyncRenderer(None, None, None, None, "/static/s/")
    assert type(s) is module.Renderer and s.parent is None and not s.is_async and s.static_url == "/static/s/"
    child = h.AsyncRenderer(h)  # 0.5's way to give the parent
    assert child.parent is h and child.is_async and child.callbacks is h.callbacks


def test_the_async_class_and_its_sync_children(module):
    a = module.AsyncRenderer()
    assert a.is_async and a.new().is_async and module.AsyncRenderer(module.Renderer()).is_async
    s = a.SyncRenderer()
    assert not s.is_async and not s.new().is_async and s.parent is a


# --- attributes, errors, labels -----------------------------------------------------------------


def test_data_attributes_are_written_with_dashes(h):
    div = h.div(data_foo="1", data_foo_bar="2", data_="3", datafoo="4", class_="c")
    assert dict(div.attrib) == {"data-foo": "1", "data-foo-bar": "2", "data": "3", "datafoo": "4", "class": "c"}
    assert h.a(data_nagare_x="y").action(lambda: None).get("data-nagare-x") == "y"


def test_the_xml_renderer_keeps_its_attribute_names():
    h = xml.Renderer()
    assert h.x(data_foo="1").get("data_foo") == "1"


def test_error_returns_the_same_tag_and_decorates_it_where_it_is_added(h, callbacks):
    got = []
    with h.form:
        field = h.input(value="x").error("Too short").action(got.append)
        assert field.tag == "input"
        h << h.p("before") << field << h.p("after")
    page = lxml.html.fragment_fromstring(h.fragment(h.root))
    decorated = page.find_class("nagare-error-field")[0]
    assert [e.tag for e in (decorated.getprevious(), decorated.getnext())] == ["p", "p"]
    assert [e.get("class") for e in decorated] == ["nagare-error-input", "nagare-error-message"]
    assert decorated[0][0].tag == "input" and decorated[1].text == "Too short"
    callbacks.process([(decorated[0][0].get("name"), "typed")])
    assert got == ["typed"]


def test_error_on_a_child_of_a_tag_and_on_the_root(h):
    field = h.textarea("t").error("Required")
    out = html(h, h.div(field, "tail"))
    assert out.startswith('<div><div class="nagare-error-field"><div class="nagare-error-input"><textarea>t</textarea>')
    assert out.endswith('<div class="nagare-error-message">Required</div></div>tail</div>')
    other = h.new()
    other << h.input(name="n").error("No")
    assert other.root.get("class") == "nagare-error-field"  # decorated as soon as it is added


def test_error_after_the_tag_was_added_decorates_it_in_place(h):
    field = h.input(name="n")
    div = h.div("a", field, "b")
    field.error("Bad")
    assert html(h, div) == (
        '<div>a<div class="nagare-error-field"><div class="nagare-error-input"><input name="n"></div>'
        '<div class="nagare-error-message">Bad</div></div>b</div>'
    )
    field.error("Worse")
    assert html(h, div).count("nagare-error-field") == 1 and "Worse" in html(h, div) and "Bad" not in html(h, div)
    field.error(None)
    assert html(h, div) == '<div>a<input name="n">b</div>'


def test_error_uses_the_renderers_decorate_error(module):
    class Renderer(module.Renderer):
        def decorate_error(self, element, error):
            return self.span(element, self.em(error), class_="bad")

    h = Renderer()
    assert html(h, h.div(h.input.error("e"))) == '<div><span class="bad"><input><em>e</em></span></div>'


def test_a_label_holding_a_field_is_for_it(h):
    out = lxml.html.fragment_fromstring(h.fragment(h.div(h.label("Name", h.input(name="n")))))
    label, field = out.find("label"), out.find("label/input")
    assert label.get("for") and label.get("for") == field.get("id")
    out = lxml.html.fragment_fromstring(h.fragment(h.label("Name", h.select(id="mine"))))
    assert out.get("for") == "mine" and out.find("select").get("id") == "mine"


def test_a_label_gets_a_generated_for_that_the_view_may_give_a_field(h):
    label = h.label("Name")
    assert label.get("for")
    with h.p:
        h << label << h.input(id=label.get("for"))
    out = lxml.html.fragment_fromstring(h.fragment(h.root))
    assert out.find("label").get("for") == out.find("input").get("id")
    assert h.label("x", for_="given").get("for") == "given"
    assert lxml.html.fragment_fromstring(h.fragment(h.label("E", h.input(), for_="other"))).get("for") == "other"


def test_label_ids_in_a_page(h):
    with h.form:
        for name in ("a", "b"):
            h << h.label(name, h.input(name=name))
    page = lxml.html.document_fromstring(h.page(h.root))
    labels = page.findall(".//label")
    assert len({label.get("for") for label in labels}) == 2
    assert all(page.get_element_by_id(label.get("for")).tag == "input" for label in labels)


# --- processing instructions, namespaces ------------------------------------------------------


def test_processing_instruction_with_pseudo_attributes():
    h = xml.Renderer()
    pi = h.processing_instruction("xml-stylesheet", href="s.css?a=1&b=2", type_="text/css")
    assert etree.tostring(pi, encoding="unicode") == '<?xml-stylesheet href="s.css?a=1&amp;b=2" type="text/css"?>'
    assert etree.tostring(h.processing_instruction("php", "echo 1;"), encoding="unicode") == "<?php echo 1;?>"
    pi = h.processing_instruction("target", "text", a="1")
    assert etree.tostring(pi, encoding="unicode") == '<?target text a="1"?>'


def test_namespaces_and_default_namespace():
    h = xml.Renderer()
    assert h.namespaces is None and h.default_namespace is None
    h.namespaces = {"xsl": "http://www.w3.org/1999/XSL/Transform", "x": "urn:x"}
    h.default_namespace = "xsl"
    child = h.new()
    assert child.namespaces is h.namespaces and child.default_namespace == "xsl"
    tree = child.stylesheet(child.template(match="/", **{"x:mode": "m"}), version="1.0")
    assert tree.tag == "{http://www.w3.org/1999/XSL/Transform}stylesheet"
    out = h.fragment(tree)
    assert out.startswith('<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform"')
    assert '<xsl:template match="/" x:mode="m"/>' in out and out.count("xmlns:xsl") == 1


# --- views using the services -------------------------------------------------------------------


class Form:
    def __init__(self):
        self.error = "Required"


@presentation.render_for(Form)
def render_form(self, h, comp, model):
    with h.form:
        with h.label:
            h << "Name" << h.input(name="name").error(self.error)
        h << h.input(type="submit", data_role="save").action(lambda: None)
    return h.root


def test_a_0_5_form_view(module):
    h = module.Renderer(session_params=dict(SESSION), url="/app/")
    page = lxml.html.document_fromstring(h.page(Component(Form())))
    label = page.find(".//label")
    field = label.find(".//input[@name='name']")
    assert label.find("div").get("class") == "nagare-error-field" and field.get("id") == label.get("for")
    assert page.find(".//input[@type='submit']").get("data-role") == "save"


class SessionView:
    pass


@presentation.render_for(SessionView)
def render_session_view(self, h, comp, model):
    return h.p(h.span(h.session.session_id, id="sid"), h.a("x", id="link").action(lambda: None))


def test_h_session_is_the_session_of_the_request():
    from nagare.config import loader
    from nagare.sessions.memory import Sessions
    from nagare.sessions.serializer import Serializer
    from nagare.wsgi.app import WSGIApp

    sessions = Sessions(loader.check(None, Sessions.SETTINGS, {}), Serializer(b"k" * 32, "t"), "t")
    app = WSGIApp(SessionView, name="t", sessions=sessions)
    request = webob.Request.blank("/t/", base_url="http://localhost")
    request.script_name, request.path_info = "/t", "/"
    page = request.get_response(app).text
    session_id = re.search(r'id="sid">([0-9a-f]+)<', page).group(1)
    assert f"_s={session_id}" in re.search(r'id="link" href="([^"]+)"', page).group(1)
