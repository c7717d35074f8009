"""The HTML5 renderer, the default renderer of Nagare.

The same tags, actions, head and asynchronous rendering as `xhtml` (see its docstring), with the
HTML5 elements and an HTML serialisation: `<!DOCTYPE html>`, void elements without end tags,
`<script></script>` never self-closed, boolean attributes in their short form, utf-8 bytes.
The tags HTML5 made obsolete (`h.center`, `h.font`, `h.big`, `h.tt`, ...) are AttributeErrors.
"""

from __future__ import annotations

from lxml import etree

from nagare.namespaces import xhtml, xml

#: The HTML5 elements, in addition to those of `xhtml.TAGS`.
TAGS = (
    "article aside audio bdi canvas data datalist details dialog embed figcaption figure footer "
    "header hgroup main mark menu meter nav output picture progress rp rt ruby search section slot "
    "source summary svg template time track video wbr math"
).split()

#: The tags of HTML 4 that HTML5 made obsolete (WHATWG HTML, "Obsolete features").
OBSOLETE_TAGS = (
    "acronym applet basefont big center dir font frame frameset isindex noframes strike tt"
).split()


class HeadRenderer(xhtml.HeadRenderer):
    """`h.head` of an HTML5 page."""


class Renderer(xhtml.Renderer):
    """The HTML5 renderer."""

    content_type = "text/html; charset=utf-8"
    doctype = "<!DOCTYPE html>"
    head_renderer_class = HeadRenderer
    _script_type = None
    _style_type = None

    def _prepare_head(self, head: etree._Element) -> None:
        # The charset first, so that a page saved to a file is still read as utf-8.
        # head.find("meta[@charset]") without the path compiled and run
        for child in head:
            if child.tag == "meta" and child.get("charset") is not None:
                return
        head.insert(0, self.makeelement("meta")(charset="utf-8"))

    def _serialize_page(self, html: etree._Element) -> bytes:
        return self._doctype().encode("utf-8") + b"\n" + etree.tostring(html, method="html", encoding="utf-8")

    def _serialize(self, element: etree._Element) -> str:
        return etree.tostring(element, method="html", encoding="unicode")


xhtml.add_tag_factories(Renderer, TAGS)
xhtml.remove_tags(Renderer, OBSOLETE_TAGS, "is obsolete in HTML5: use CSS or the HTML5 elements")


class AsyncRenderer(Renderer):
    """An asynchronous renderer (the same as `Renderer(...).AsyncRenderer()`), with its children."""

    def _inherit(self, parent: xml.Renderer | None) -> None:
        super()._inherit(parent)
        self._async = True


Renderer._async_class = AsyncRenderer
Renderer._sync_class = Renderer
