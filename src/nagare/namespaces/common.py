"""The base renderer and tag classes under the names Nagare 0.5 applications import them by.

This module exists for 0.5 imports (`from nagare.namespaces import common`); the classes are
those of `nagare.namespaces.xml`.
"""

from nagare.namespaces.xml import Renderer, Tag

#: 0.5's private name of the base tag class, which some applications subclass.
_Tag = Tag

__all__ = ["Renderer", "Tag", "_Tag"]
