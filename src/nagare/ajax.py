"""Asynchronous updates: an action that re-renders part of the page without reloading it.

The renderer registers an `Update` as the action of a link or a submit button (every action of
an `AsyncRenderer` is one). On the XHR request, the `Update` runs the user's action, then returns
a `Rendering` that the application turns into HTML for the browser to put in place.

The wire format of the answer (JSON, read by `static/nagare.js`):
`{"updates": [{"id": dom_id, "mode": "outer"|"inner", "html": "..."}],
  "head": {"css": [[name, text]...], "css_url": [...], "js": [[name, text]...], "js_url": [...]},
  "reload": url-or-null}`
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nagare.component import Component
    from nagare.namespaces.xhtml import Renderer
    from nagare.types import Action, Child


def _no_action(*args: object) -> None:
    return None


@dataclass
class Rendering:
    """What an XHR request must render: `component` with `render` into the element `dom_id`.

    `render` is a view model name (the component is re-rendered in place, mode "outer"), or a
    callable `render(renderer)` whose result replaces the element's content (mode "inner").
    `component` None means the page has no asynchronous part to update: it reloads.
    """

    component: Component | None
    render: Callable[[Renderer], Child] | object  # or a view model: any object
    dom_id: str | None


class Update:
    """An action whose result is an in-place update of part of the page."""

    def __init__(
        self,
        render: Callable[[Renderer], Child] | str | None = "",
        action: Action = _no_action,
        component_to_update: str | None = None,
        with_request: bool = False,
    ) -> None:
        self.render = render
        self.action = action
        self.component_to_update = component_to_update
        self.with_request = with_request
        self.component: Component | None = None
        self.model: object = 0

    def bind(self, renderer: object) -> "Update":
        """A copy attached to the asynchronous component `renderer` is rendering, if any."""
        bound = Update(self.render, self.action, self.component_to_update, self.with_request)
        component = getattr(renderer, "async_component", None)
        bound.component = component
        if component is not None:
            # Re-render with the component's model of the time of the update (0), unless the
            # page rendered it with another view explicitly (`comp.render(h, model='x')`).
            model = getattr(renderer, "async_model", None)
            bound.model = 0 if model == component.model else model
        if bound.component_to_update is None and component is not None:
            bound.component_to_update = component.dom_id
        return bound

    def __call__(self, *args: object) -> Rendering:
        self.action(*args)
        if callable(self.render):
            return Rendering(self.component, self.render, self.component_to_update)
        model = self.render if self.render else self.model
        if self.component is None or self.component_to_update is None:
            return Rendering(None, model, None)
        return Rendering(self.component, model, self.component_to_update)
