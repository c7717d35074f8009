"""Small ready-made components: a message to acknowledge, a question to answer.

Nagare 0.5 used them through `comp.call(util.Confirm('...'))`, which suspends the caller until
the component answers: that needs continuations, which CPython does not have. Here the component
takes the place of the current one with `comp.becomes()`, and `on_answer()` says what to do with
the answer:

    class Basket:
        def __init__(self):
            self.items = ['apple', 'pear']
            self.content = component.Component(ItemList(self))

        def delete(self, item):
            confirm = util.Confirm(f'Delete {item}?', cancel='Cancel')
            self.content.becomes(confirm).on_answer(self.deleted, item)

        def deleted(self, item, ok):                # on_answer(f, *args): f(*args, answer)
            if ok:
                self.items.remove(item)
            self.content.becomes(ItemList(self))    # show the list again

The answers go through `comp.answer(...)`: `Confirm` answers True (or False with its Cancel
link), `Ask` answers the string typed (or None when cancelled).

Every action is a bound method or a `functools.partial` of one, so that the standard `pickle`
stores them with the state.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from nagare import presentation, var

if TYPE_CHECKING:
    from nagare.component import Component
    from nagare.namespaces.xhtml import Renderer
    from nagare.types import Child

__all__ = ["Confirm", "Ask"]


class Confirm:
    """Show `msg` and an Ok link that answers True (and a Cancel link answering False, if given)."""

    def __init__(self, msg: Child, ok: str = "Ok", cancel: str | None = None) -> None:
        self.msg = msg
        self.ok_label = ok
        self.cancel_label = cancel

    def ok(self, comp: Component) -> object:
        """Answer True."""
        return comp.answer(True)

    def cancel(self, comp: Component) -> object:
        """Answer False."""
        return comp.answer(False)

    def __repr__(self) -> str:
        return f"Confirm({self.msg!r})"


@presentation.render_for(Confirm)
def _render_confirm(self: Confirm, h: Renderer, comp: Component, model: object) -> Child:
    with h.div:
        h << h.p(self.msg)
        h << h.a(self.ok_label).action(partial(self.ok, comp))
        if self.cancel_label is not None:
            h << " "
            h << h.a(self.cancel_label).action(partial(self.cancel, comp))
    return h.root


class Ask:
    """A form that shows `msg`, a text input and Ok/Cancel buttons.

    Ok answers the string typed (as typed, `default` if nothing was), Cancel answers None.
    """

    def __init__(self, msg: Child, default: str = "", ok: str = "Ok", cancel: str = "Cancel") -> None:
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
    # The input's value action (priority 1) runs before the submit actions (priority 4), so `ok`
    # answers the string of the same request.
    with h.form:
        h << h.p(self.msg)
        h << h.input(type="text", value=self.input()).action(self.input)
        h << " "
        h << h.input(type="submit", value=self.ok_label).action(partial(self.ok, comp))
        h << h.input(type="submit", value=self.cancel_label).action(partial(self.cancel, comp))
    return h.root
