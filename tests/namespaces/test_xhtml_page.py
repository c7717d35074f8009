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


def test_parse_html_reads_relative_names_from_the_static_path(tmp_path):
    (tmp_path / "menu.html").write_text("<ul><li>one</li></ul>")
    h = xhtml5.Renderer(static_path=str(tmp_path))
    assert h.new().parse_html("menu.html", fragment=True)[0].tag == "ul"
    assert h.parse_html(str(tmp_path / "menu.html"), fragment=True)[0].find("li").text == "one"


def test_parse_html_reads_a_url():
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<div id='remote'>from the network</div>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), Handler) as server:
        server.timeout = 10  # handle_request gives up if no request comes
        thread = threading.Thread(target=server.handle_request, daemon=True)
        thread.start()
        try:
            (div,) = xhtml5.Renderer().parse_html(f"http://127.0.0.1:{server.server_port}/t.html", fragment=True)
        finally:
            thread.join(10)
    assert div.get("id") == "remote" and div.text == "from the network"


def test_parse_html_of_an_unreachable_url_is_one_line():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(OSError, match=rf"^cannot read http://127.0.0.1:{port}/x: "):
        xhtml5.Renderer().parse_html(f"http://127.0.0.1:{port}/x")


def test_parse_options_go_to_lxml(h):
    (ul,) = h.parse_htmlstring("<ul> <!-- c --> <li>x</li> </ul>", fragment=True, remove_comments=True)
    assert [type(node).__name__ for node in ul] == ["HTMLTag"] and ul[0].text == "x"
    tree = h.parse_xmlstring("<a>\n  <b/>\n</a>", remove_blank_text=True)
    assert h.fragment(tree).replace(" ", "") in ("<a><b/></a>", "<a><b></b></a>")
    tree = h.parse_htmlstring("<p><?pi x?>y</p>", fragment=True, xhtml=True, remove_pis=True)
    assert h.fragment(tree) == "<p>y</p>"


# --- scripts and styles of the body, the content type a view sets ------------------------------


def test_scripts_and_styles_of_the_body_go_to_the_head(h):
    h.head.javascript_url("lib.js")
    with h.div:
        h << "a" << h.script("var first = 1;") << "b"
        h << h.style(".x { color: red }")
        h << h.p(h.script(src="widget.js"), "c")
    page = document(h.page(h.root))
    head, body = page.find("head"), page.find("body")
    assert not body.findall(".//script") and not body.findall(".//style")
    scripts = [s.get("src") or s.text for s in head.findall("script")]
    assert scripts == ["/static/nagare/nagare.js", "/static/app/lib.js", "var first = 1;", "widget.js"]
    assert head.find("style").text == ".x { color: red }"
    assert body.find("div").text_content() == "abc"  # the text around them stays in place


def test_scripts_in_parsed_markup_go_to_the_head_too(h):
    page = document(h.page(h.div(h.parse_html("<p>x<script>var p;</script></p>", fragment=True))))
    assert page.find("head/script[last()]").text == "var p;" and page.find("body//script") is None


def test_scripts_that_belong_where_they_are_stay(h):
    svg = h.svg(h.makeelement("style")("circle { fill: red }"))
    html = h.html(h.head(h.script("var in_head;")), h.body(svg, h.noscript(h.style("p {}")), h.template(h.script("t"))))
    page = document(h.page(html))
    assert page.find("body/svg/style") is not None and page.find("body/template") is not None
    assert [s.text for s in page.findall("head/script")][0] == "var in_head;"


def test_a_content_type_set_by_a_view_is_kept_and_the_output_is_not_a_page():
    import webob

    response = webob.Response(charset="utf-8")
    h = xhtml5.Renderer(response=response)
    assert h.view_content_type is None
    h.new().response.content_type = "text/xml"
    assert h.view_content_type == "text/xml"
    rss = h.parse_xmlstring("<rss version='2.0'><channel><title>News &amp; more</title></channel></rss>")
    assert h.page(rss) == b'<rss version="2.0"><channel><title>News &amp; more</title></channel></rss>'
    response.content_type = "text/plain"
    assert h.page("a < b") == b"a < b"


def test_a_view_may_set_the_doctype():
    import webob

    response = webob.Response()
    h = xhtml5.Renderer(response=response)
    response.doctype = '<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN">'  # type: ignore[attr-defined]
    assert h.page(h.p("x")).startswith(b'<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN">\n<html>')
    x = xhtml.Renderer(response=response)
    assert x.page(x.p("x")).startswith(b'<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01//EN">\n<html')


# --- Nagare's own static files ------------------------------------------------------------------


def test_the_static_files_of_the_0_5_skeleton_are_served():
    import struct
    import zlib

    from webob import Request

    from nagare.wsgi.loader import NAGARE_STATIC
    from nagare.wsgi.static import StaticFiles

    static = StaticFiles(NAGARE_STATIC)
    css = Request.blank("/application.css").get_response(static)
    assert css.status_int == 200 and css.content_type == "text/css"
    assert css.text.count("{") == css.text.count("}") > 5
    assert all(selector in css.text for selector in (".mybody", "#myheader", "#main", ".nagare-error-message"))
    logo = Request.blank("/img/logo.png").get_response(static)
    assert logo.status_int == 200 and logo.content_type == "image/png"
    data = logo.body
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 8000
    # every chunk's CRC is right, the image data inflates to the size IHDR announces
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks[kind] = chunks.get(kind, b"") + body
        position += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {2: 3, 6: 4}[color]
    assert 16 <= width <= 400 and 16 <= height <= 200 and depth == 8
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + width * channels)
    assert b"IEND" in chunks
