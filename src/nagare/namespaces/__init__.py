"""The renderers: Python objects that build lxml trees of tags.

- `xml`: the generic tag renderer (any tag name, `with` nesting, components as children);
- `xhtml`: XHTML tags with actions (links, forms, inputs), the head renderer, async rendering;
- `xhtml5`: the HTML5 renderer, the default of Nagare for Python 3.

    from nagare.namespaces import xhtml5

    h = xhtml5.Renderer()
    with h.ul(class_='menu'):
        h << h.li(h.a('Home').action(go_home))
    page = h.page(h.root)
"""
