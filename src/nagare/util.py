"""Small ready-made components: a message to acknowledge, a question to answer, a view.

As in Nagare 0.5, they are answered through `comp.call()`, which shows the component in place of
the current one and returns its answer (the code calling resumes on the request that answers):

    class Basket:
        def __init__(self):
            self.items = ['apple', 'pear']

        def delete(self, comp, item):                 # an action: comp.call() may suspend it
            if comp.call(util.Confirm(f'Delete {item}?', cancel='Cancel')):
                self.items.remove(item)

Without a flow, `comp.becomes(confirm).on_answer(f, ...)` does the same with a callback: the
component takes the place of the current one, and `f(..., answer)` says what to do with it.

The answers go through `comp.answer(...)`, as in Nagare 0.5: `Confirm(msg)` answers None (a
message acknowledged), `Ask(msg)` the string typed. The optional labels add a Cancel button:
`Confirm(msg, cancel=...)` then asks a question, answered True or False, and `Ask`'s Cancel
answers None.

Every action is a bound method or a `functools.partial` of one, so that the standard `pickle`
stores them with the state.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from nagare import presentation, var

if TYPE_CHECKING:
    from nagare.component import Component
    from nagare.namespaces.xhtml import Renderer
    from nagare.types import Child

__all__ = ["Confirm", "Ask", "View"]


class Confirm:
    """Show `msg` in a form with an `ok` button, which answers None (as in Nagare 0.5).

    With a `cancel` label, it asks a question: `ok` answers True, the Cancel button False.
    """

    def __init__(self, msg: Child, ok: str = "ok", cancel: str | None = None) -> None:
        self.msg = msg
        self.ok_label = ok
        self.cancel_label = cancel

    def ok(self, comp: Component) -> object:
        """Answer None, or True when there is a Cancel button."""
        return comp.answer(None if self.cancel_label is None else True)

    def cancel(self, comp: Component) -> object:
        """Answer False."""
        return comp.answer(False)

    def __repr__(self) -> str:
        return f"Confirm({self.msg!r})"


@presentation.render_for(Confirm)
def _render_confirm(self: Confirm, h: Renderer, comp: Component, model: object) -> Child:
    with h.form:
        h << h.p(self.msg)
        h << h.input(type="submit", value=self.ok_label).action(partial(self.ok, comp))
        if self.cancel_label is not None:
            h << " "
            h << h.input(type="submit", value=self.cancel_label).action(partial(self.cancel, comp))
    return h.root


class Ask:
    """A form that shows `msg`, a text input and a `Send` button answering the string typed.

    The input starts with `default`; with a `cancel` label, a Cancel button answers None.
    """

    def __init__(self, msg: Child, default: str = "", ok: str = "Send", cancel: str | None = None) -> None:
        self.msg = msg
        self.input = var.Var(default)
        self.ok_label = ok
        self.cancel_label = cancel

    def ok(self, comp: Component) -> object:
        """Answer the string typed."""
        return comp.answer(self.input())

    def cancel(self, comp: Component) -> object:
        """Answer None."""
        return comp.answer(None)

    def __repr__(self) -> str:
        return f"Ask({self.msg!r})"


@presentation.render_for(Ask)
def _render_ask(self: Ask, h: Renderer, comp: Component, model: object) -> Child:
    # The input's value action (priority 1) runs before the submit actions, so `ok` answers the
    # string of the same request.
    with h.form:
        h << h.p(self.msg)
        h << h.input(type="text", value=self.input()).action(self.input)
        h << " "
        h << h.input(type="submit", value=self.ok_label).action(partial(self.ok, comp))
        if self.cancel_label is not None:
            h << h.input(type="submit", value=self.cancel_label).action(partial(self.cancel, comp))
    return h.root


class View:
    """A component made of a function: it renders as `view(h)`.

    `view` is kept in the state: a module-level function, a bound method, or a closure (the
    session's pickler stores those by reference to their code).
    """

    def __init__(self, view: Callable[[Renderer], Child]) -> None:
        self.view = view

    def __repr__(self) -> str:
        return f"View({self.view!r})"


@presentation.render_for(View)
def _render_view(self: View, h: Renderer, comp: Component, model: object) -> Child:
    return self.view(h)
