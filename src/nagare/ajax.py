"""Asynchronous updates: an action that re-renders part of the page without reloading it.

The renderer registers an `Update` as the action of a link or a submit button (every action of
an `AsyncRenderer` is one), or of a field (sent by `static/nagare.js` when its value changes). On
the XHR request, the `Update` runs the user's action, then returns a `Rendering` that the
application turns into HTML for the browser to put in place.

    h.a('+1').action(ajax.Update(action=self.add, component_to_update='total'), 1)
    h.input.action(ajax.Update(lambda h: h.b(self.name), self.set_name, 'greeting'))
    h.a('both').action(ajax.Updates(ajax.Update(...), ajax.Update(...), action=self.first))

An `Updates` groups several updates in one XHR request: one answer holds every rendering.

The wire format of the answer (JSON, read by `static/nagare.js`):
`{"updates": [{"id": dom_id, "mode": "outer"|"inner", "html": "..."}],
  "head": {"css": [[name, text]...], "css_url": [...], "js": [[name, text]...], "js_url": [...]},
  "reload": url-or-null}`
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from lxml import etree

from nagare import security
from nagare.partial import Partial

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
    `url` is the URL the component was rendered under (the application's and the `url` of every
    component enclosing it): its links keep their path once updated.
    """

    component: Component | None
    render: Callable[[Renderer], Child] | object  # or a view model: any object
    dom_id: str | None
    url: str = ""


#: What an update answers to the application: one rendering, or several for an `Updates`.
Answer: TypeAlias = "Rendering | list[Rendering]"


def dom_id_of(target: object) -> str | None:
    """The id of the element `target` (a DOM id, a tag, or None), given to a tag that has none."""
    if target is None or isinstance(target, str):
        return target
    if isinstance(target, etree._Element):
        dom_id = target.get("id")
        if not dom_id:
            dom_id = "nagare-" + secrets.token_hex(6)  # as Component.dom_id
            target.set("id", dom_id)
        return dom_id
    raise TypeError(f"component_to_update must be a DOM id, a tag or None, not {target!r}")


class Update:
    """An action whose result is an in-place update of part of the page.

    `Update(render='', action=None, component_to_update=None, *args, with_request=False,
    permissions=None, subject=None, **kw)`, as in Nagare 0.5:

    - `render`: the view model of the component to re-render ('' or None: the model it was
      rendered with), or `render(renderer)` whose output replaces the content of the target;
    - `action`: called first, with `args` and `kw` bound (`action(*args, [request, response,]
      [value,] **kw)`: the tag decides what comes after the bound arguments);
    - `component_to_update`: the target, None for the enclosing asynchronous component, a DOM id,
      or a tag (given an id if it has none; only the id is kept: the state holds no tag);
    - `with_request`, `permissions`, `subject`: as for `tag.action()`; keywords only, since every
      positional argument after the third is bound to `action`.
    """

    __slots__ = ("render", "action", "component_to_update", "with_request", "permissions", "subject", "component", "model", "url")

    def __init__(
        self,
        render: Callable[[Renderer], Child] | str | None = "",
        action: Action | None = None,
        component_to_update: object = None,
        *args: object,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> None:
        if action is None:
            action = _no_action
        elif not callable(action):
            raise TypeError(f"the action of an Update must be callable, not {action!r}")
        self.render = render
        self.action: Action = Partial(action, *args, **kw) if args or kw else action
        self.component_to_update = dom_id_of(component_to_update)
        self.with_request = with_request
        self.permissions = permissions
        self.subject = subject
        self.component: Component | None = None
        self.model: object = 0
        self.url = ""

    def bind(self, renderer: object, args: tuple[object, ...] = (), kw: Mapping[str, object] | None = None) -> Update:
        """A copy attached to the asynchronous component `renderer` is rendering, if any.

        `args` and `kw`, the extra arguments of the tag's `.action()`, are bound after the
        Update's own. The copy is what the registry keeps: neither the request flag nor the
        permissions, which the registry keeps itself.
        """
        bound = self.__class__.__new__(self.__class__)
        bound.render = self.render
        bound.action = Partial(self.action, *args, **(kw or {})) if args or kw else self.action
        bound.with_request = False
        bound.permissions = bound.subject = None
        component = getattr(renderer, "async_component", None)
        bound.component = component
        bound.model = 0
        if component is not None:
            # Re-render with the component's model of the time of the update (0), unless the
            # page rendered it with another view explicitly (`comp.render(h, model='x')`).
            model = getattr(renderer, "async_model", None)
            bound.model = 0 if model == component.model else model
        target = self.component_to_update
        bound.component_to_update = component.dom_id if target is None and component is not None else target
        bound.url = _url_around(renderer, component)
        return bound

    def __call__(self, *args: object) -> Answer:
        self.action(*args)
        if callable(self.render):
            return Rendering(self.component, self.render, self.component_to_update, self.url)
        model = self.render if self.render else self.model
        if self.component is None or self.component_to_update is None:
            return Rendering(None, model, None)
        return Rendering(self.component, model, self.component_to_update, self.url)

    # A bound Update is in the state once per asynchronous link: a tuple, not a dict of names.
    def __getstate__(self) -> tuple[object, ...]:
        return (self.render, self.action, self.component_to_update, self.component, self.model, self.url)

    def __setstate__(self, state: tuple[object, ...]) -> None:
        self.render, self.action, self.component_to_update, self.component, self.model, self.url = state  # type: ignore[assignment]
        self.with_request = False
        self.permissions = self.subject = None


def _url_around(renderer: object, component: Component | None) -> str:
    """The URL `component` is rendered under by `renderer` or one of its ancestors: without its own.

    The renderer that started the component added the component's `url` to its parent's; its
    re-rendering adds it again. Without a component: the URL of `renderer`.
    """
    url: str = getattr(renderer, "url", "")
    if component is None:
        return url
    r = renderer
    while r is not None and getattr(r, "component", None) is not component:
        r = getattr(r, "parent", None)
    if r is None:  # not rendered by this chain of renderers: the best known
        return url
    while (parent := getattr(r, "parent", None)) is not None and getattr(parent, "component", None) is component:
        r = parent
    parent = getattr(r, "parent", None)
    return url if parent is None else str(parent.url)


class Updates(Update):
    """Several updates answered by one XHR request.

    `Updates(*updates, action=None, with_request=False, permissions=None, subject=None, **kw)`, as
    in Nagare 0.5: `action` (with `kw` bound, and the request, the permissions and the subject as
    for an `Update`'s) runs first, then the action of each update in order, each with its own
    request flag and permissions; the answer holds the rendering of every update.

    The registry passes the request when `action` or one of the updates wants it; only those get it.
    A field's value goes to `action` only.
    """

    __slots__ = ("updates", "requests", "action_with_request")

    def __init__(
        self,
        *updates: Update,
        action: Action | None = None,
        with_request: bool = False,
        permissions: object = None,
        subject: object = None,
        **kw: object,
    ) -> None:
        for update in updates:
            if not isinstance(update, Update):
                raise TypeError(f"Updates groups ajax.Update objects, not {update!r}")
        super().__init__("", action, None, with_request=with_request, permissions=permissions, subject=subject, **kw)
        self.updates = updates
        self.requests = tuple(update.with_request for update in updates)  # kept once bound
        self.action_with_request = with_request
        self.with_request = with_request or any(self.requests)

    def bind(self, renderer: object, args: tuple[object, ...] = (), kw: Mapping[str, object] | None = None) -> Update:
        """A copy attached to what `renderer` is rendering, each update bound with it.

        An update's permissions wrap its action: the registry checks only those of the group.
        """
        bound = super().bind(renderer, args, kw)
        assert isinstance(bound, Updates)
        bound.requests = self.requests
        bound.action_with_request = self.action_with_request
        bound.with_request = self.with_request  # whether the registry passes the request
        inner = []
        for update in self.updates:
            one = update.bind(renderer)
            if update.permissions is not None:
                one.action = security.wrapper(one.action, update.permissions, update.subject)
            inner.append(one)
        bound.updates = tuple(inner)
        return bound

    def __call__(self, *args: object) -> Answer:
        request: tuple[object, ...] = ()
        if self.with_request:  # the registry put the request and the response first
            request, args = args[:2], args[2:]
        self.action(*(request + args if self.action_with_request else args))
        answer: list[Rendering] = []
        for with_request, update in zip(self.requests, self.updates, strict=True):
            rendering = update(*request) if with_request else update()
            answer.extend(rendering if isinstance(rendering, list) else (rendering,))
        return answer

    def __getstate__(self) -> tuple[object, ...]:
        return (*super().__getstate__(), self.updates, self.requests, self.action_with_request, self.with_request)

    def __setstate__(self, state: tuple[object, ...]) -> None:
        super().__setstate__(state[:-4])
        self.updates, self.requests, self.action_with_request, self.with_request = state[-4:]  # type: ignore[assignment]
