"""The head, the page and the serialisations of the XHTML and HTML5 renderers, and HTML parsing."""

import json

import lxml.html
import pytest
from lxml import etree

from nagare.namespaces import xhtml, xhtml5


@pytest.fixture
def h():
    return xhtml5.Renderer(static_url="/static/app/", session_params={"_s": "s", "_c": "c"})


@pytest.fixture
def x():
    return xhtml.Renderer(static_url="/static/app/")


def document(page: bytes):
    return lxml.html.document_fromstring(page)


# --- head -----------------------------------------------------------------------------------


def test_head_deduplication_and_order(h):
    head = h.head
    head.css("b", "b {}")
    head.css("a", "a {}")
    head.css("b", "ignored {}")
    head.css_url("one.css")
    head.css_url("/abs/two.css")
    head.css_url("one.css")
    head.javascript("j2", "var j2;")
    head.javascript("j1", "var j1;")
    head.javascript("j2", "ignored")
    head.javascript_url("lib.js")
    head.javascript_url("https://cdn.example.org/x.js")
    head.javascript_url("/static/app/lib.js")  # the same url once resolved
    assert h.head_assets() == {
        "css": [["b", "b {}"], ["a", "a {}"]],
        "css_url": ["/static/app/one.css", "/abs/two.css"],
        "js": [["j2", "var j2;"], ["j1", "var j1;"]],
        "js_url": ["/static/app/lib.js", "https://cdn.example.org/x.js"],
    }
    json.dumps(h.head_assets())
    page = document(h.page(h.p("body")))
    head_el = page.find("head")
    assert [e.tag for e in head_el] == ["meta", "link", "link", "style", "style", "script", "script", "script", "script", "script"]
    assert [e.get("href") for e in head_el.findall("link")] == ["/static/app/one.css", "/abs/two.css"]
    assert [e.get("data-nagare-name") for e in head_el.findall("style")] == ["b", "a"]
    scripts = head_el.findall("script")
    assert [s.get("src") for s in scripts] == [
        "/static/nagare/nagare.js",
        "/static/app/lib.js",
        "https://cdn.example.org/x.js",
        None,
        None,
    ]
    assert [s.text for s in scripts[3:]] == ["var j2;", "var j1;"]


def test_head_is_shared_by_child_renderers(h):
    h.new().AsyncRenderer().head.css("c", "c {}")
    assert h.head_assets()["css"] == [["c", "c {}"]]


def test_head_tags(h):
    h.head << h.head.title("The <title>")
    h.head << h.head.meta(name="description", content="d")
    h.head << h.head.link(rel="icon", href="favicon.ico")
    page = document(h.page("x"))
    assert page.find("head/title").text == "The <title>"
    assert page.find("head/meta[@name='description']").get("content") == "d"
    assert page.find("head/link[@rel='icon']").get("href") == "/static/app/favicon.ico"
    assert h.head(h.head.title("t")).tag == "head"


def test_head_css_returns_nothing_to_render(h):
    assert h.fragment(h.div(h.head.css("a", "a{}"), h.head.javascript_url("x.js"))) == "<div></div>"


# --- page -----------------------------------------------------------------------------------


def test_page_of_a_fragment(h):
    h << h.h1("Title") << "text & more"
    page = h.page(h.root)
    assert isinstance(page, bytes)
    assert page.startswith(b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">")
    assert b'<script src="/static/nagare/nagare.js"></script>' in page
    assert page.endswith(b"<body><h1>Title</h1>text &amp; more</body></html>")
    assert h.content_type == "text/html; charset=utf-8"


def test_page_of_an_html_element(h):
    h.head.css("a", "a {}")
    html = h.html(h.head(h.head.title("Mine")), h.body(h.p("p")))
    page = document(h.page(html))
    head = page.find("head")
    assert [e.tag for e in head] == ["meta", "title", "style", "script"]
    assert page.find("body/p").text == "p"


def test_page_of_an_html_element_without_head(h):
    page = document(h.page(h.html(h.body("b"))))
    assert page.find("head/script").get("src") == "/static/nagare/nagare.js"
    assert page.find("body").text == "b"


def test_page_keeps_a_charset_given(h):
    html = h.html(h.head(h.meta(charset="latin-1")), h.body())
    page = document(h.page(html))
    assert [m.get("charset") for m in page.findall("head/meta")] == ["latin-1"]


def test_page_not_always_html(h):
    assert h.page(h.p("x & y"), always_html=False) == b"<p>x &amp; y</p>"
    assert h.page("text", always_html=False) == b"text"
    assert h.page(h.html(h.body()), always_html=False).startswith(b"<!DOCTYPE html>")


def test_page_is_utf8(h):
    assert "é€".encode() in h.page(h.p("é€"))


# --- serialisations ---------------------------------------------------------------------------


def test_html5_serialisation(h):
    out = h.fragment(
        h.div(h.br, h.img(src="a.png"), h.input(value="v", disabled=True), h.script(src="x.js"), h.textarea, h.span, h.p)
    )
    assert out == (
        '<div><br><img src="/static/app/a.png"><input value="v" disabled><script src="x.js"></script>'
        "<textarea></textarea><span></span><p></p></div>"
    )


def test_html5_tags(h):
    assert h.fragment(h.section(h.article(h.time("now", datetime="2024-01-01")), h.nav)) == (
        '<section><article><time datetime="2024-01-01">now</time></article><nav></nav></section>'
    )
    assert h.fragment(h.makeelement("my-widget")("y")) == "<my-widget>y</my-widget>"  # any name


def test_escaping_in_pages(h):
    evil = '"><script>alert(1)</script>'
    page = h.page(h.div(evil, title=evil, data_x=evil))
    assert page.count(b"<script>") == 0 and page.count(b"<script") == 1  # only nagare.js
    doc = document(page)
    div = doc.find("body/div")
    assert div.text == evil and div.get("title") == evil


def test_xhtml_page(x):
    x.head.javascript("j", "if (a < b && c > d) { run(); }")
    x.head.css("c", "a > b { color: red }")
    page = x.page(x.div(x.br, x.p, x.script("x = 1 < 2;"), x.textarea)).decode()
    assert page.startswith('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"')
    assert '<html xmlns="http://www.w3.org/1999/xhtml">' in page
    assert "<br/>" in page and "<p></p>" in page and "<textarea></textarea>" in page
    assert '<script type="text/javascript" src="/static/nagare/nagare.js"></script>' in page
    assert "//<![CDATA[\nif (a < b && c > d) { run(); }\n//]]>" in page
    assert "/*<![CDATA[*/\na > b { color: red }\n/*]]>*/" in page
    assert "<div/>" not in page and "/>" not in page.replace("<br/>", "")
    etree.fromstring(page.split("\n", 1)[1])  # well-formed XML
    # what a browser parsing text/html sees
    doc = document(page.encode())
    assert doc.find("head/script[@data-nagare-name='j']").text.strip().startswith("//<![CDATA[")
    assert x.content_type.startswith("text/html")


def test_xhtml_fragment(x):
    assert x.fragment([x.span, "<&>", x.hr]) == "<span></span>&lt;&amp;&gt;<hr/>"


# --- parsing (trusted markup) -----------------------------------------------------------------


def test_parse_html_fragment(h):
    nodes = h.parse_html("lead <b>bold</b> and <i>it</i>", fragment=True)
    assert nodes[0] == "lead " and [n.tag for n in nodes[1:]] == ["b", "i"]
    assert h.fragment(h.p(nodes)) == "<p>lead <b>bold</b> and <i>it</i></p>"
    assert [n.tag for n in h.parse_htmlstring("x<hr>", fragment=True, no_leading_text=True)] == ["hr"]


def test_parse_html_gives_renderer_tags(h):
    (link,) = h.parse_htmlstring('<a href="x">x</a>', fragment=True)
    assert isinstance(link, xhtml.A)
    link.action(print)
    assert link.get("href").startswith("x?_action")  # its href kept, the action's id added


def test_parse_html_document_and_file(h, tmp_path):
    root = h.parse_htmlstring("<html><body><p>x</p></body></html>")
    assert root.tag == "html" and root.find("body/p").text == "x"
    path = tmp_path / "t.html"
    path.write_text("<div>file</div>")
    assert h.parse_html(str(path), fragment=True)[0].text == "file"
    with open(path, "rb") as f:
        assert h.parse_html(f, fragment=True)[0].tag == "div"


def test_parsed_markup_is_not_escaped_but_text_is(h):
    out = h.fragment(h.div(h.parse_html("<em>ok</em>", fragment=True), "<em>no</em>"))
    assert out == "<div><em>ok</em>&lt;em&gt;no&lt;/em&gt;</div>"
