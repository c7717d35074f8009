"""meld3-style templating on tags: meld ids, findmeld, repeat, fill, replace, append_text."""

import pytest

from nagare import presentation
from nagare.component import Component
from nagare.namespaces import xhtml, xml

MELD_ID = "{http://www.plope.com/software/meld3}id"

TEMPLATE = """<table xmlns:meld="http://www.plope.com/software/meld3">
<tr meld:id="row"><td meld:id="name">name</td><td meld:id="age">0</td></tr>
</table>"""


@pytest.fixture
def h():
    return xhtml.Renderer()


def test_meld_id_sets_the_namespaced_attribute_and_returns_the_tag(h):
    div = h.div("x")
    assert div.meld_id("main") is div
    assert div.get(MELD_ID) == "main"
    assert xml.MELD_ID == MELD_ID


def test_findmeld_finds_a_descendant_or_itself_else_the_default(h):
    span = h.span("in").meld_id("inner")
    div = h.div(h.p(span)).meld_id("outer")
    assert div.findmeld("inner") is span
    assert div.findmeld("outer") is div
    assert div.findmeld("missing") is None
    assert div.findmeld("missing", "nothing") == "nothing"


def test_findmeld_in_a_parsed_xml_template(h):
    table = h.parse_xmlstring(TEMPLATE)
    assert table.findmeld("name").text == "name"
    assert isinstance(table.findmeld("row"), xml.Tag)


def test_findmeld_in_an_html_template(h):
    # The HTML parser knows no namespaces: there the attribute is named `meld:id` as written.
    div = h.parse_htmlstring('<div><p meld:id="para">text</p></div>', fragment=True)[0]
    assert div.findmeld("para").text == "text"
    assert b"meld:id" not in div.write_htmlstring(pipeline=False)


def test_repeat_clones_the_element_in_place_for_each_item(h):
    table = h.parse_xmlstring(TEMPLATE)
    rows = table.repeat([("Ann", 31), ("Bob", 42)], "row")
    for row, (name, age) in rows:
        row.findmeld("name").fill(name)
        row.findmeld("age").fill(age)
    trs = table.findall("tr")
    assert [[td.text for td in tr] for tr in trs] == [["Ann", "31"], ["Bob", "42"]]
    assert [tr for tr, _ in rows] == trs
    assert table.text == "\n" and trs[-1].tail == "\n"


def test_repeat_of_the_tag_itself_and_of_nothing(h):
    ul = h.ul(h.li("model").meld_id("item"), h.li("last"))
    item = ul.findmeld("item")
    pairs = list(item.repeat("ab"))
    assert [item for _, item in pairs] == ["a", "b"]
    for li, letter in pairs:
        li.fill(letter)
    assert h.fragment(ul) == (
        '<ul><li xmlns:meld="http://www.plope.com/software/meld3" meld:id="item">a</li>'
        '<li xmlns:meld="http://www.plope.com/software/meld3" meld:id="item">b</li><li>last</li></ul>'
    )
    ul2 = h.ul("a", h.li("model").meld_id("item"), "b")
    assert ul2.repeat([], "item") == []
    assert h.fragment(ul2) == "<ul>ab</ul>"


def test_repeated_clones_belong_to_the_renderer(h):
    ul = h.ul(h.li(h.a("link")).meld_id("item"))
    ((li, _),) = ul.repeat([1], "item")
    assert li.renderer is h and li[0].renderer is h
    assert isinstance(li[0], xhtml.A)
    li[0].action(lambda: None)  # a clone can get an action: it knows its renderer


def test_repeat_of_a_missing_child_is_an_error(h):
    with pytest.raises(ValueError, match="no element with the meld id 'nope'"):
        h.ul().repeat([1], "nope")


def test_fill_replaces_the_content_keeps_the_tail_and_sets_attributes(h):
    p = h.p("old", h.b("bold"), "after")
    div = h.div(p, "tail")
    assert p.fill("new", h.i("it"), 3, class_="filled") is p
    assert h.fragment(div) == '<div><p class="filled">new<i>it</i>3</p>tail</div>'


def test_fill_renders_components(h):
    class Model:
        pass

    @presentation.render_for(Model)
    def render(self, h, comp, model):
        return h.em("model")

    p = h.p("old")
    p.fill(Component(Model()))
    assert h.fragment(p) == "<p><em>model</em></p>"


def test_replace_puts_the_children_in_place_of_the_tag(h):
    old = h.span("old")
    div = h.div("a", old, "b", h.br())
    assert old.replace("x", h.i("new"), "y") is None
    assert h.fragment(div) == "<div>ax<i>new</i>yb<br/></div>"
    old2 = div.find("i")
    old2.replace()
    assert h.fragment(div) == "<div>axyb<br/></div>"


def test_replace_keeps_lxmls_meaning_with_a_child_and_an_element(h):
    # lxml's own `parent.replace(old_child, new_element)` (ElementInclude uses it) still works.
    child = h.span("old")
    div = h.div(child)
    div.replace(child, h.b("new"))
    assert h.fragment(div) == "<div><b>new</b></div>"


def test_replace_of_a_tag_without_parent_is_an_error(h):
    with pytest.raises(ValueError, match="has no parent"):
        h.div().replace("x")


def test_append_text_after_the_last_child_or_into_the_text(h):
    p = h.p()
    p.append_text("a")
    p.append_text("b")
    p(h.br())
    p.append_text("c")
    p.append_text("")
    assert h.fragment(p) == "<p>ab<br/>c</p>"


def test_meld_on_xml_tags():
    h = xml.Renderer()
    book = h.book(h.title("?").meld_id("t"))
    book.findmeld("t").fill("Dune")
    assert book.findmeld("t").write_xmlstring(pipeline=False) == b"<title>Dune</title>"
