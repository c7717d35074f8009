"""The base XHTML renderer and tags under the names Nagare 0.5 applications import them by.

This module exists for 0.5 imports (`from nagare.namespaces import xhtml_base`); the classes are
those of `nagare.namespaces.xhtml`, where the actions live too.
"""

from nagare.namespaces.xhtml import VOID_ELEMENTS, HeadRenderer, HTMLTag, Renderer

#: 0.5's names of the XHTML renderer and of the HTML tag class.
XHTMLRenderer = Renderer
_HTMLTag = HTMLTag

__all__ = ["VOID_ELEMENTS", "HTMLTag", "HeadRenderer", "Renderer", "XHTMLRenderer", "_HTMLTag"]
