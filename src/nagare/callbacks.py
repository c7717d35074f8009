"""The registry of the actions a rendered page can trigger.

Every `.action()` of the renderer registers a callable here and gets back the name of the
request parameter that triggers it: `_action<priority digit><digits>`. The registry is pickled
with the component tree, so a later request on the same state finds the callables again.

Priorities order the calls of one request (SPEC: callbacks run in priority order):
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from webob import Request, Response

    from nagare.types import Action

PRE_ACTION = 0  #: a form's `pre_action`, before any value
VALUE = 1  #: an input, a textarea, a select: called with the submitted value
LINK = 2  #: a link or an `<img>` source
SUBMIT = 4  #: a submit button or an image input, after every value of the form
POST_ACTION = 5  #: a form's `post_action`, last

_NAME = re.compile(r"_action(\d)(\d+)(\.[xy])?$")

#: An action named in a request: (priority, key, kind, values), see `Callbacks.parse`.
ParsedAction = tuple[int, str, str, list[object]]


class _State(TypedDict):
    callbacks: dict[str, tuple[Action, bool]]
    next: int


class Callbacks:
    """Callables of one state, by id; ids are unique within the state, even across XHR updates."""

    def __init__(self) -> None:
        self._callbacks: dict[str, tuple[Action, bool]] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self._callbacks)

    def register(self, priority: int, callback: Action, with_request: bool = False) -> str:
        """Keep `callback` and return the parameter name that triggers it.

        With `with_request`, the callable receives the WebOb request and response first.
        """
        if not 0 <= priority <= 9:
            raise ValueError(f"callback priority must be a digit, not {priority!r}")
        self._next += 1
        key = f"{self._next:05d}"
        self._callbacks[key] = (callback, with_request)
        return f"_action{priority}{key}"

    def clear(self) -> None:
        """Forget every callable (a new full-page rendering registers them again)."""
        self._callbacks.clear()

    def __getstate__(self) -> _State:
        return {"callbacks": self._callbacks, "next": self._next}

    def __setstate__(self, state: _State) -> None:
        self._callbacks = state["callbacks"]
        self._next = state["next"]

    @staticmethod
    def parse(params: Iterable[tuple[str, object]]) -> list[ParsedAction]:
        """The actions named in request parameters, as (priority, key, kind, values), sorted.

        `kind` is '' for a plain parameter and 'image' for the `.x`/`.y` pair an image input sends.
        Values of the same parameter are grouped in the order they came.
        """
        found: dict[str, ParsedAction] = {}
        order: list[str] = []
        for name, value in params:
            match = _NAME.match(name)
            if match is None:
                continue
            priority, key, suffix = int(match.group(1)), match.group(2), match.group(3)
            if suffix:
                if key not in found:
                    found[key] = (priority, key, "image", [])
                    order.append(key)
                continue
            if key not in found:
                found[key] = (priority, key, "", [])
                order.append(key)
            found[key][3].append(value)
        # sorted() is stable: within one priority, the order of the request is kept.
        return sorted((found[key] for key in order), key=lambda action: action[0])

    def process(
        self, params: Iterable[tuple[str, object]], request: Request | None = None, response: Response | None = None
    ) -> list[object]:
        """Call the actions named in `params`, in priority order; return what they returned."""
        return self.run(self.parse(params), request, response)

    def run(
        self, actions: Iterable[ParsedAction], request: Request | None = None, response: Response | None = None
    ) -> list[object]:
        """Call the `actions` found by `parse()`; return what they returned.

        A value action (priority 1) gets the submitted value: a string, a list when several values
        came (a multiple select), or the uploaded file object. Others are called with no value.
        Unknown ids are skipped: they come from an older page of the same state.
        """
        results = []
        for priority, key, kind, values in actions:
            entry = self._callbacks.get(key)
            if entry is None:
                continue
            callback, with_request = entry
            args: tuple[object, ...] = (request, response) if with_request else ()
            if priority in (VALUE,) and kind != "image":
                value = values[0] if len(values) == 1 else values
                results.append(callback(*args, value))
            else:
                results.append(callback(*args))
        return results
